// Types of infra/build/bundle.mjs for the TypeScript that imports it (the benchmark and the tests).
export declare const REPO_ROOT: string;
export declare const ENTRIES: ReadonlyArray<{ service: string; entry: string }>;
export declare const EXTERNAL: Readonly<Record<string, string>>;
export declare function bundlePath(service: string, entry?: string): string;
export declare function buildBundles(options?: {
  services?: string[] | undefined;
  quiet?: boolean | undefined;
  outRoot?: string | undefined;
}): Promise<Array<{ file: string; bytes: number }>>;
