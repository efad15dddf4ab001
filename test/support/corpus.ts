// The awesome-compose corpus, kept in the repository (test/fixtures/compose-corpus: a copy of
// ../shared/corpus with its README and CC0 licence) so that a clone anywhere can run the tests.
import { fileURLToPath } from "node:url";

export const corpusDirectory = fileURLToPath(new URL("../fixtures/compose-corpus/awesome-compose", import.meta.url));
