// src/core/errors.ts
var ERROR_CLASS = /* @__PURE__ */ Symbol.for("flowproof.error-class@1");
var FlowproofError = class extends Error {
  /** @internal The class's name in every copy of flowproof; subclasses declare their own. */
  static [ERROR_CLASS] = "FlowproofError";
  /** Stable, documented identifier of the failure; safe to branch on. */
  code;
  /**
   * Structured facts about the failure; empty when there are none. Always JSON-safe: values JSON
   * cannot hold are converted when the error is made (see {@link FlowproofErrorOptions.details}).
   */
  details;
  /**
   * @param code - the stable code, one of {@link FlowproofErrorCode}.
   * @param message - a sentence for humans; never personal data or secrets.
   */
  constructor(code, message, options = {}) {
    super(message, options.cause === void 0 ? void 0 : { cause: options.cause });
    this.name = "FlowproofError";
    this.code = code;
    this.details = jsonSafeDetails(options.details);
  }
  /**
   * True when `value` is an instance of this class, made by this copy of flowproof or another one
   * (the other module format, a duplicate install).
   */
  static [Symbol.hasInstance](value) {
    return isInstanceAcrossCopies(this, value);
  }
  /** A JSON-safe view for logs and problem responses; the cause is left out. */
  toJSON() {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
};
function isInstanceAcrossCopies(errorClass, value) {
  if (Function.prototype[Symbol.hasInstance].call(errorClass, value)) return true;
  const name = Object.hasOwn(errorClass, ERROR_CLASS) ? errorClass[ERROR_CLASS] : "";
  try {
    let prototype = Object(value) === value ? Object.getPrototypeOf(value) : null;
    for (; name && prototype; prototype = Object.getPrototypeOf(prototype)) {
      const owner = Object.hasOwn(prototype, "constructor") && prototype.constructor;
      if (Object.hasOwn(owner, ERROR_CLASS) && owner[ERROR_CLASS] === name) return true;
    }
  } catch {
  }
  return false;
}
function jsonSafeDetails(details) {
  const seen = /* @__PURE__ */ new WeakSet();
  let copy;
  try {
    copy = JSON.parse(
      JSON.stringify(details ?? {}, (_key, value) => {
        if (typeof value === "bigint") return String(value);
        if (typeof value !== "object" || value === null) return value;
        if (seen.has(value)) return "[Circular]";
        seen.add(value);
        return value;
      })
    );
  } catch {
    copy = { unreadable: true };
  }
  return Object.freeze(
    typeof copy === "object" && copy !== null && !Array.isArray(copy) ? copy : { value: copy }
  );
}
function describeValue(value) {
  if (typeof value !== "object") return typeof value;
  if (value === null) return "null";
  try {
    if (Array.isArray(value)) return "an array";
    if (value instanceof Date) return "a Date";
  } catch {
  }
  return "an object";
}

// src/core/options.ts
function assertOptionsObject(value, name) {
  if (typeof value !== "object" || value === null || isArrayOrUnreadable(value)) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
}
function isArrayOrUnreadable(value) {
  try {
    Object.keys(value);
    return Array.isArray(value);
  } catch {
    return true;
  }
}
function assertFunction(value, name) {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
}
function assertKnownKeys(value, known, name) {
  let allKnown = true;
  for (const key in value) {
    if (Object.hasOwn(value, key) && !known.includes(key)) {
      allKnown = false;
      break;
    }
  }
  if (allKnown) return;
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const listed = unknown.map((key) => `${name}.${key}`).join(", ");
  throw new TypeError(
    `unknown option${unknown.length > 1 ? "s" : ""} ${listed}; expected one of: ${known.join(", ")}`
  );
}
function readable(name, read) {
  try {
    return read();
  } catch (cause) {
    throw unreadable(name, cause);
  }
}
function unreadable(name, cause) {
  return new TypeError(`${name} cannot be read`, { cause });
}
function readObject(value, name, known) {
  const keys = readable(
    name,
    () => typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value)
  );
  if (!keys) throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  const copy = /* @__PURE__ */ Object.create(null);
  for (const key of keys) {
    copy[key] = readable(`${name}.${key}`, () => value[key]);
  }
  if (known) assertKnownKeys(copy, known.split(" "), name);
  return copy;
}

// src/core/clock.ts
var systemClock = Object.freeze({ now: () => /* @__PURE__ */ new Date() });
function toUtcIso(instant) {
  if (!isDate(instant)) {
    throw new TypeError(`instant must be a Date, got ${describeValue(instant)}`);
  }
  const time = Date.prototype.getTime.call(instant);
  if (Number.isNaN(time)) throw new TypeError("instant is an invalid Date");
  return new Date(time).toISOString();
}
function isDate(value) {
  try {
    Date.prototype.getTime.call(value);
    return true;
  } catch {
    return false;
  }
}
var OFFSET_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;
var LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$/;
var DATE_TIME_PROBLEMS = Object.freeze({
  format: "is not an ISO-8601 date-time with seconds and an offset (e.g. 2026-01-01T00:00:00Z or 2026-01-01T01:00:00+01:00)",
  "no-offset": "lacks an offset (Z or \xB1hh:mm), so its instant depends on the time zone",
  "no-such-date": "names a date, time or offset that does not exist (e.g. February 30 or 24:00)",
  "year-range": "falls outside the UTC years 0000 to 9999"
});
function readDateTime(value) {
  const match = OFFSET_DATE_TIME.exec(value);
  if (!match) return LOCAL_DATE_TIME.test(value) ? "no-offset" : "format";
  const field = (index) => Number(match[index] ?? 0);
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(field);
  if (field(8) > 23 || field(9) > 59) return "no-such-date";
  const rebuilt = /* @__PURE__ */ new Date(0);
  rebuilt.setUTCFullYear(year, month - 1, day);
  rebuilt.setUTCHours(hour, minute, second);
  if (rebuilt.getUTCFullYear() !== year || rebuilt.getUTCMonth() !== month - 1 || rebuilt.getUTCDate() !== day || rebuilt.getUTCHours() !== hour || rebuilt.getUTCMinutes() !== minute || rebuilt.getUTCSeconds() !== second) {
    return "no-such-date";
  }
  const instant = new Date(value);
  const utcYear = instant.getUTCFullYear();
  return utcYear >= 0 && utcYear <= 9999 ? instant : "year-range";
}
function parseInstant(value, name = "value") {
  if (typeof value === "string") {
    const read = readDateTime(value);
    if (read instanceof Date) return read;
    throw new TypeError(`${name} ${DATE_TIME_PROBLEMS[read]}, got ${JSON.stringify(value)}`);
  }
  if (!isDate(value)) {
    throw new TypeError(
      `${name} must be a Date or an ISO-8601 date-time with an offset (e.g. 2026-01-01T00:00:00Z), got ${describeValue(value)}`
    );
  }
  const time = Date.prototype.getTime.call(value);
  if (Number.isNaN(time)) throw new TypeError(`${name} is an invalid Date`);
  return new Date(time);
}

// src/lineage/provenance.ts
var TRACED = /* @__PURE__ */ Symbol.for("flowproof.lineage.traced");
function isTraced(value) {
  if (typeof value !== "object" || value === null) return false;
  try {
    return value[TRACED] === true;
  } catch {
    return false;
  }
}
var SOURCED_KEYS = "source fetchedAt attributes masked";
var MAX_NAME_LENGTH = 200;
function sourced(value, options) {
  const read = readObject(options, "options", SOURCED_KEYS);
  const source = checkName(read.source, "options.source");
  const fetchedAt = read.fetchedAt === void 0 ? toUtcIso(/* @__PURE__ */ new Date()) : instantText(read.fetchedAt, "options.fetchedAt");
  const { masked } = read;
  const attributes = read.attributes === void 0 ? void 0 : readObject(read.attributes, "options.attributes");
  if (masked !== void 0 && typeof masked !== "boolean") {
    throw new TypeError(`options.masked must be a boolean, got ${describeValue(masked)}`);
  }
  const provenance = Object.freeze({
    kind: "sourced",
    value,
    source,
    fetchedAt,
    ...attributes === void 0 ? {} : { attributes: Object.freeze({ ...attributes }) },
    ...masked ? { masked: true } : {}
  });
  return new SettledTraced(value, provenance);
}
function derive(name, version, inputs, fn) {
  checkName(name, "name");
  checkName(version, "version");
  assertOptionsObject(inputs, "inputs");
  assertFunction(fn, "fn");
  const copy = {};
  const values = {};
  try {
    for (const key in inputs) {
      if (!Object.hasOwn(inputs, key)) continue;
      const input = inputs[key];
      copy[key] = input;
      values[key] = isTraced(input) ? input.value : input;
    }
  } catch (cause) {
    throw unreadable("inputs", cause);
  }
  const result = fn(values);
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      (value) => new DerivedTraced(value, name, version, Date.now(), copy)
    );
  }
  return new DerivedTraced(result, name, version, Date.now(), copy);
}
var SettledTraced = class {
  constructor(value, provenance) {
    this.value = value;
    this.provenance = provenance;
    Object.freeze(this);
  }
  value;
  provenance;
  [TRACED] = true;
};
var DerivedTraced = class {
  constructor(value, calculation, version, calculatedAtMs, inputs) {
    this.value = value;
    this.calculation = calculation;
    this.version = version;
    this.calculatedAtMs = calculatedAtMs;
    this.#inputs = inputs;
  }
  value;
  calculation;
  version;
  calculatedAtMs;
  [TRACED] = true;
  #inputs;
  #provenance;
  get provenance() {
    if (this.#provenance === void 0) {
      const inputs = {};
      for (const key in this.#inputs) {
        const input = this.#inputs[key];
        inputs[key] = isTraced(input) ? input.provenance : { kind: "literal", value: input };
      }
      this.#provenance = {
        kind: "derived",
        value: this.value,
        calculation: this.calculation,
        version: this.version,
        calculatedAt: new Date(this.calculatedAtMs).toISOString(),
        inputs
      };
    }
    return this.#provenance;
  }
};
function isThenable(value) {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof value.then === "function";
}
function checkName(value, name) {
  if (typeof value !== "string" || value.trim() === "" || value.length > MAX_NAME_LENGTH) {
    throw new TypeError(
      `${name} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got ${describeValue(value)}`
    );
  }
  return value;
}
function instantText(value, name) {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || Math.abs(value) > 864e13) {
      throw new TypeError(
        `${name} must be a Date, epoch milliseconds or ISO-8601 text, got ${value}`
      );
    }
    return toUtcIso(new Date(value));
  }
  return toUtcIso(parseInstant(value, name));
}

// .prof/d.ts
var subtotal = sourced(125, { source: "a" });
var taxRate = sourced(0.0875, { source: "b" });
var shipping = sourced(12.5, { source: "c" });
var f = (v) => v.subtotal * (1 + v.taxRate) + v.shipping;
var s = 0;
for (let r = 0; r < 6; r++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) s += f({ subtotal: subtotal.value, taxRate: taxRate.value, shipping: shipping.value });
  const plain = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 1e6; i++) s += derive("order-total", "v2.3.1", { subtotal, taxRate, shipping }, f).value;
  const d = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 1e5; i++) s += derive("order-total", "v2.3.1", { subtotal, taxRate, shipping }, f).provenance.kind.length;
  const p = (performance.now() - t) * 10;
  console.log(`plain ${plain.toFixed(0)} ns/op-ish, derive ${d.toFixed(0)}, derive+prov ${p.toFixed(0)} (ns per call)`);
}
console.log(s > 0);
