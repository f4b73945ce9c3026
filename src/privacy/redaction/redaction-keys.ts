/**
 * Key patterns of redaction: a glob (`*secret*`, `pass?ord`) or a RegExp tested against a key at
 * any depth. Every rule's patterns are merged into one function that gives the first rule whose
 * pattern matches, remembered per key (log objects reuse the same few keys).
 */

/** How many distinct keys are remembered before the memo starts over. */
const MEMO_LIMIT = 4096;

/**
 * A case-sensitive RegExp for a glob on a whole key: `*` is any run of characters (none
 * included), `?` exactly one; every other character stands for itself.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else source += char.replace(/[\\^$.|+()[\]{}/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}

/**
 * A function from a key to the first rule (lowest index) one of whose patterns matches it, or -1.
 * `patterns[i]` are the patterns of rule `i`. A RegExp's `g` and `y` flags are dropped: they
 * would make `test` depend on the previous key.
 */
export function compileKeyPatterns(
  patterns: readonly (readonly (string | RegExp)[])[],
): ((key: string) => number) | undefined {
  const compiled: { regexp: RegExp; rule: number }[] = [];
  patterns.forEach((rulePatterns, rule) => {
    for (const pattern of rulePatterns) {
      const regexp =
        typeof pattern === 'string'
          ? globToRegExp(pattern)
          : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
      compiled.push({ regexp, rule });
    }
  });
  if (compiled.length === 0) return undefined;
  const memo = new Map<string, number>();
  return (key) => {
    const known = memo.get(key);
    if (known !== undefined) return known;
    let rule = -1;
    for (const pattern of compiled) {
      if (pattern.regexp.test(key)) {
        rule = pattern.rule;
        break; // patterns are in rule order
      }
    }
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(key, rule);
    return rule;
  };
}
