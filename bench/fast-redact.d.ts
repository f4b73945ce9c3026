/** The slice of fast-redact's API the redaction benchmark calls (the package ships no types). */
declare module 'fast-redact' {
  interface FastRedactOptions {
    paths: string[];
    censor?: unknown;
    remove?: boolean;
    serialize?: boolean | ((value: unknown) => string);
    strict?: boolean;
  }
  interface FastRedact {
    (value: unknown): unknown;
    restore(value: unknown): unknown;
  }
  function fastRedact(options: FastRedactOptions): FastRedact;
  export default fastRedact;
}
