// Container ids and names as Docker makes them: 64 hex characters whose 12-character short
// form is never all digits; names `adjective_surname` when none is given; user names checked
// against Docker's allowed characters.

import { BerthError } from "../../errors.js";
import { randomBytes, randomInt } from "../random.js";

export const NameErrorCode = "E_CONTAINER_INVALID_NAME";

/** A 64-hex id whose short form cannot be mistaken for a number (Docker's GenerateRandomID). */
export function generateId(random: (bytes: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(32).toString("hex");
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}

export const shortId = (id: string): string => id.slice(0, 12);

const namePattern = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** The name without Docker's leading `/`, or an error quoting Docker's rule. */
export function validateContainerName(name: string): string {
  if (!namePattern.test(name)) {
    throw new BerthError(NameErrorCode, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.replace(/^\//, "");
}

const adjectives = [
  "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
  "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
  "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic",
  "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused",
  "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore",
  "heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial",
  "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty",
  "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive",
  "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad",
  "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender",
  "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful",
  "xenodochial", "youthful", "zealous", "zen",
] as const;

const surnames = [
  "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
  "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr", "booth",
  "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "cerf", "chandrasekhar", "chaplygin",
  "chatelet", "chaum", "cohen", "colden", "cori", "cray", "curie", "darwin", "davinci", "diffie", "dijkstra",
  "dirac", "driscoll", "dubinsky", "easley", "edison", "einstein", "elgamal", "elion", "engelbart", "euclid",
  "euler", "faraday", "feistel", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg",
  "goldstine", "goldwasser", "golick", "goodall", "gould", "greider", "hamilton", "hawking", "heisenberg",
  "hellman", "hertz", "hodgkin", "hofstadter", "hopper", "hugle", "hypatia", "jackson", "jennings", "jepsen",
  "johnson", "joliot", "jones", "kalam", "kapitsa", "keldysh", "kepler", "khorana", "kilby", "kirch", "knuth",
  "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
  "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto", "maxwell", "mayer",
  "mccarthy", "mcclintock", "mclean", "mcnulty", "meitner", "mendel", "mendeleev", "merkle", "mestorf",
  "mirzakhani", "montalcini", "moore", "morse", "moser", "napier", "nash", "neumann", "newton", "nightingale",
  "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal", "pasteur", "payne", "perlman", "pike",
  "poincare", "poitras", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "robinson", "roentgen",
  "rosalind", "rubin", "saha", "sammet", "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley",
  "shockley", "sinoussi", "snyder", "solomon", "spence", "stonebraker", "sutherland", "swanson", "swartz",
  "swirles", "taussig", "tesla", "tharp", "thompson", "torvalds", "tu", "turing", "varahamihira", "vaughan",
  "villani", "visvesvaraya", "volhard", "wescoff", "wilbur", "wiles", "williams", "williamson", "wilson",
  "wing", "wozniak", "wright", "wu", "yalow", "yonath", "zhukovsky",
] as const;

/**
 * Docker's `adjective_surname`; `retry` > 0 appends a digit, as Docker does after a collision
 * (and never `boring_wozniak`).
 */
export function randomName(retry = 0, pick: (size: number) => number = randomInt): string {
  for (;;) {
    const name = `${adjectives[pick(adjectives.length)]}_${surnames[pick(surnames.length)]}`;
    if (name === "boring_wozniak") continue;
    return retry > 0 ? `${name}${pick(10)}` : name;
  }
}
