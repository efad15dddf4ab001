// An in-memory FileReader for loader tests: the listed files and every directory above them.
import path from "node:path";
import type { FileReader } from "../../../src/compose/context.js";
import { ComposeError, ErrorCode } from "../../../src/errors.js";

export function memoryFiles(files: Readonly<Record<string, string>>): FileReader {
  const directories = new Set<string>();
  for (const file of Object.keys(files)) {
    for (let directory = path.dirname(file); !directories.has(directory); directory = path.dirname(directory)) {
      directories.add(directory);
    }
  }
  return {
    readText(file) {
      const text = files[file];
      if (text === undefined) throw new ComposeError(ErrorCode.composeIo, `open ${file}: no such file or directory`, { file });
      return text;
    },
    exists: (file) => Object.hasOwn(files, file) || directories.has(file),
    isDirectory: (file) => directories.has(file),
  };
}
