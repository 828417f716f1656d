/**
 * The flow DSL: the node classes a flow author declares (steps, shape adapters, routing, expansion,
 * scoped resources, terminals, source) and the flow itself.
 *
 * @module
 */
export {
  BatchExpandStep,
  BatchStep,
  ConfigBinding,
  type Deps,
  ExpandStep,
  isStep,
  isStepClass,
  type MaybePromise,
  RecordStep,
  Step,
  type StepOptions,
  type StepResult,
} from "./_steps.ts";
export {
  DecodeErrors,
  type ErrorEnvelopeOf,
  errorEnvelopeOf,
  FromMultiTypeTopic,
  FromTopic,
  type MultiPayload,
  type Source,
} from "./_source.ts";
export {
  Backend,
  Drain,
  type IntoSink,
  IntoTable,
  IntoTopic,
  type IntoTopicOptions,
  isIntoSink,
  PartitionGuarantee,
  PartitionPolicy,
  type PartitionStrategy,
  type SinkContext,
  type SinkWriter,
} from "./_terminals.ts";
export { CollectBatch, ForEach, WindowStrategy } from "./_batching.ts";
export {
  type ClassifiedDeps,
  ContextFactory,
  ResourceScope,
  With,
  WithAsync,
  type WithAsyncOptions,
  type WithOptions,
} from "./_scoped.ts";
export {
  Broadcast,
  BroadcastRoute,
  Fork,
  type ForkKind,
  ForkRoute,
  type KeyedRoutes,
  PredicateRoute,
  Route,
  Router,
  RouteTable,
  type RouteTableOptions,
} from "./_routing.ts";
export { type ExpandedRows, ExpandRoutes, Explode, type PayloadExpander } from "./_expansion.ts";
export {
  ErrorRoute,
  type ErrorsDeclaration,
  type PassThroughNode,
  Process,
  ProcessBuilder,
  type ProcessNode,
  StreamFlow,
  type StreamFlowOptions,
  type TerminalNode,
} from "./_flow.ts";
export { StreamShape } from "./_shape.ts";
export { definitionProblems } from "./_problems.ts";
