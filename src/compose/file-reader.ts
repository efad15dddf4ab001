// The real FileReader over node:fs (read-only). Errors become ComposeError naming the path.

import { readFileSync, statSync } from "node:fs";
import { ComposeError, ErrorCode } from "../errors.js";
import type { FileReader } from "./context.js";

export const diskFileReader: FileReader = {
  readText(file) {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === "ENOENT" ? "no such file or directory" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : String(code);
      throw new ComposeError(ErrorCode.composeIo, `open ${file}: ${reason}`, { file, cause: error });
    }
  },
  exists(file) {
    return statSync(file, { throwIfNoEntry: false }) !== undefined;
  },
  isDirectory(file) {
    return statSync(file, { throwIfNoEntry: false })?.isDirectory() ?? false;
  },
};
