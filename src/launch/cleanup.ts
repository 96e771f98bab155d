/**
 * What a start opened, closed in reverse order: each step registers the closing of what it
 * opened as soon as it opened it, so a step that fails later (or the master's normal end) closes
 * exactly what exists, nothing more. A failing closer does not stop the ones after it.
 */
export class Cleanup {
  readonly #closers: Array<() => void | Promise<void>> = [];

  add(close: () => void | Promise<void>): void {
    this.#closers.push(close);
  }

  async run(): Promise<void> {
    let first: unknown = null;
    for (const close of this.#closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== null) throw first;
  }
}

/**
 * A value bound after the code that reads it was built: the master and its upgrader each need
 * the other, so the upgrader is given the master through one of these (set once the master is
 * constructed). Reading it before then is a bug in the start-up order, and says so.
 */
export class Late<T> {
  #value: T | null = null;

  constructor(private readonly what: string) {}

  set(value: T): T {
    this.#value = value;
    return value;
  }

  get(): T {
    if (this.#value === null) throw new Error(`prefork: ${this.what} used before it was constructed`);
    return this.#value;
  }

  /** Null until set: for a clean-up that may run after a start that failed early. */
  get maybe(): T | null {
    return this.#value;
  }
}
