// PLACEHOLDER: owned by a helper; replaced with the typed, immutable, long-syntax Project model.
export interface Project {
  readonly name: string;
  readonly services: Readonly<Record<string, unknown>>;
}
