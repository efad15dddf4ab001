// The loader's public face: other folders import only from here.
export { loadProject, type LoadedProject, type LoadOptions } from "./load.js";
export type { Project } from "./model.js";
export { projectToConfig } from "./serialize.js";
export { defaultSwitches, type PipelineSwitches } from "./pipeline.js";
export type { ComposeDocument, Mapping } from "./document.js";
export { TaggedValue } from "./document.js";
