export * from './errors.ts';
export * from './types.ts';
export * from './parse.ts';
export * from './deps.ts';
export * from './template.ts';
export * from './plan.ts';
export * from './fuse.ts';
export * from './shuffle.ts';
