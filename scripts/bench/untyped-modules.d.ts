// The benchmark's two devDependencies without type declarations here: autocannon ships none, and
// onnxruntime-node 1.20.1's package.json names dist/index.d.ts, which its tarball lacks.
declare module 'autocannon';
declare module 'onnxruntime-node';
