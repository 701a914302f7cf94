/**
 * An error caused by the user's input (a flag, a file, a shape). The CLI prints its message as one line
 * and exits with code 2; every other error is a bug and keeps its stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Throw a UserError naming `what` if any value of `a` is NaN or ±Infinity. */
export function assertFinite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isFinite(v)) {
      throw new UserError(`${what}: non-finite value ${v} at flat index ${i}`);
    }
  }
}
