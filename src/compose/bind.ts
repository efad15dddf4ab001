// PLACEHOLDER: owned by a helper; the binder turns the normalized document into the typed Project.
import type { LoadContext } from "./context.js";
import type { ComposeDocument } from "./document.js";
import type { Project } from "./model.js";

export function bindProject(document: ComposeDocument, context: LoadContext): Project {
  return { name: context.projectName, services: (document.data["services"] ?? {}) as Record<string, unknown> };
}
