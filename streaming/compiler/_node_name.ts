/**
 * How compilation messages name a node: a step by its step name, a class by its name, a sink by its
 * constructor.
 *
 * @module
 */
import { isIntoSink, isStep } from "../dsl/mod.ts";

/** The display name of a node in messages. */
export function nodeName(node: unknown): string {
  if (isStep(node)) return node.stepName();
  if (typeof node === "function") return node.name || "<anonymous>";
  if (node && typeof node === "object") {
    if (isIntoSink(node)) {
      return (node as object).constructor?.name === "Object" ? "IntoSink" : (node as object).constructor.name;
    }
    return (node as object).constructor?.name ?? "object";
  }
  return String(node);
}
