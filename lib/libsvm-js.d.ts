// libsvm-js ships no types: its CommonJS export is a promise of the SVM class (the wasm module loads first).
declare module 'libsvm-js' {
  export interface LibsvmModel {
    train(samples: number[][], labels: number[]): void;
    predict(samples: number[][]): number[];
    predictOne(sample: number[]): number;
    getSVIndices(): number[];
    getLabels(): number[];
    serializeModel(): string;
    free(): void;
  }
  export interface LibsvmClass {
    new (options: Record<string, unknown>): LibsvmModel;
    SVM_TYPES: Record<string, string>;
    KERNEL_TYPES: Record<string, string>;
  }
  const svm: Promise<LibsvmClass>;
  export default svm;
}
