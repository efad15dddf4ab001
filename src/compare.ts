// Sorting text by UTF-16 code units: the same order on every machine and locale, and free.
// String#localeCompare builds an ICU collator on its first call, about 10 ms of a command's
// start-up on these machines (it was most of `container run`'s network planning).

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
