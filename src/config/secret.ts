const REDACTED = '[redacted]';

/**
 * A credential read from the topology or the environment. The value is in a private field and
 * every way a config gets printed (JSON.stringify, console.log / util.inspect, template strings)
 * shows `[redacted]`, so logging a whole config or an error that carries one cannot leak it;
 * only the code that hands it to the Kafka client calls reveal().
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${REDACTED})`;
  }
}
