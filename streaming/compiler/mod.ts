/**
 * The compiler: `compileFlow` turns a flow and its configuration into an immutable plan, or throws a
 * {@link CompilationError} listing every problem with its node path.
 *
 * @module
 */
export { CompilationError, type CompilationIssue } from "./_errors.ts";
export { compileFlow } from "./_flow.ts";
