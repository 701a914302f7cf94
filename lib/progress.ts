/** Something that is told how far a long job has come. */
export interface Progress {
  /** Set the number of work units done so far (out of the total given at creation). */
  update(done: number): void;
  /** Mark the job finished. */
  stop(): void;
}

/** A progress sink that shows nothing (library use, tests, --quiet). */
export const silentProgress = (): Progress => ({ update: () => {}, stop: () => {} });

export type ProgressFactory = (label: string, total: number) => Progress;

export const noProgress: ProgressFactory = () => silentProgress();
