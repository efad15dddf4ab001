// PLACEHOLDER: owned by a helper; replaced with the real merge.
import type { Pass } from "./context.js";
import type { ComposeDocument } from "./document.js";

export function mergeDocuments(documents: readonly ComposeDocument[]): ComposeDocument {
  const first = documents[0];
  if (first === undefined) throw new Error("mergeDocuments: no documents");
  return first;
}

export const resetTagsPass: Pass = { name: "reset-tags", run: (document) => document };
