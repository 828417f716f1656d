// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * The immutable plan produced by `compileFlow` and executed by the engine.
 *
 * @module
 */
import type { ErrorKind } from "./_message.ts";
import type { MessageType } from "./_type.ts";
import type { PredicateLike, SelectorLike } from "./expr/mod.ts";
import type {
  CollectBatch,
  IntoSink,
  PartitionPolicy,
  PayloadExpander,
  ResourceScope,
  Step,
  StreamFlow,
  StreamShape,
  With,
} from "./dsl/mod.ts";
import type { ConsumerSettings, KafkaSettings, ProducerSettings, RuntimeSettings } from "./_settings.ts";

/**
 * A resolved Kafka output.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const plan = compileFlow(flow, config);
 * for (const [path, sink] of plan.topicSinks) console.log(path, sink.logical, "->", sink.topic);
 * ```
 */
export interface CompiledTopicSink {
  /** Logical name (`IntoTopic.name`). */
  readonly logical: string;
  /** Physical topic. */
  readonly topic: string;
  /** Producer settings used for this output. */
  readonly settings: ProducerSettings;
  /** Key rules, or null. */
  readonly partitioning: PartitionPolicy<any> | null;
  /** Dead-letter topic, or null. */
  readonly dlq: string | null;
  /** Declared payload type, or null. */
  readonly payloadType: MessageType | null;
  /** `IntoTopic({ payload: errorEnvelopeOf(T) })`: T, the original payload type of the error envelopes. */
  readonly errorEnvelopeOf?: MessageType | null;
  /** `IntoTopic({ messageType: "inherit" })`: the input's message type travels on. */
  readonly inheritMessageType?: boolean;
  /** Node path, e.g. `process[2].routes[0].process[1]` or `output`. */
  readonly path: string;
}

/**
 * A resolved storage sink.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const plan = compileFlow(flow, config);
 * for (const [path, sink] of plan.storageSinks) console.log(path, sink.name, sink.section);
 * ```
 */
export interface CompiledStorageSink {
  /** The sink declaration. */
  readonly sink: IntoSink<any>;
  /** Sink name. */
  readonly name: string;
  /** `streaming.sinks.<name>` as written, or null when the sink brings its own writer. */
  readonly section: Readonly<Record<string, unknown>> | null;
  /** Node path of the sink. */
  readonly path: string;
}

/**
 * Multi-type dispatch table (built from `FromMultiTypeTopic.payloads`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const dispatch = compileFlow(flow, config).source.dispatch;
 * dispatch?.plain.has("order.created");
 * ```
 */
export interface DispatchTable {
  /** Plain payload types by `message_type` name. */
  readonly plain: ReadonlyMap<string, MessageType>;
  /** Error envelopes by original payload type name. */
  readonly error: ReadonlyMap<string, MessageType>;
  /** True when decode errors (`loom.streaming.error.wire`) are accepted as payloads. */
  readonly wire: boolean;
}

/**
 * A resolved source.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const { logical, topics, settings } = compileFlow(flow, config).source;
 * console.log(logical, topics, settings.groupId);
 * ```
 */
export interface CompiledSource {
  /** `single` (FromTopic) or `multi` (FromMultiTypeTopic). */
  readonly kind: "single" | "multi";
  /** Logical name of the source. */
  readonly logical: string;
  /** Consumer settings. */
  readonly settings: ConsumerSettings;
  /** Physical topics read (the consumer's `topics`, else the logical name). */
  readonly topics: readonly string[];
  /** Declared shape. */
  readonly shape: StreamShape;
  /** Payload type of a single-type source. */
  readonly payloadType: MessageType | null;
  /** Dispatch table of a multi-type source. */
  readonly dispatch: DispatchTable | null;
}

/**
 * A compiled process (ordered nodes plus its shapes).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const root = compileFlow(flow, config).process;
 * console.log(root.inputShape, root.outputShape, root.nodes.map((n) => n.op));
 * ```
 */
export interface CompiledProcess {
  /** Node path of the process. */
  readonly path: string;
  /** Shape of the stream entering the process. */
  readonly inputShape: StreamShape;
  /** Shape of the stream leaving the process. */
  readonly outputShape: StreamShape;
  /** The compiled nodes, in order. */
  readonly nodes: readonly CompiledNode[];
}

/**
 * A compiled node.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * for (const node of compileFlow(flow, config).process.nodes) {
 *   if (node.op === "step") console.log(node.path, node.name, node.stepKind);
 * }
 * ```
 */
export type CompiledNode =
  | {
    readonly op: "step";
    readonly path: string;
    readonly step: Step<any, any>;
    readonly name: string;
    readonly stepKind: "record" | "batch" | "expand" | "batch_expand";
    /** True when this step runs as a batch over record input (BatchStep in a Router branch). */
    readonly batchOverRecords: boolean;
    readonly inputShape: StreamShape;
  }
  | { readonly op: "collect"; readonly path: string; readonly node: CollectBatch }
  | { readonly op: "for_each"; readonly path: string }
  | { readonly op: "drain"; readonly path: string }
  | {
    readonly op: "topic";
    readonly path: string;
    readonly sink: CompiledTopicSink;
    readonly inputShape: StreamShape;
  }
  | {
    readonly op: "table";
    readonly path: string;
    readonly sink: CompiledStorageSink;
    readonly inputShape: StreamShape;
  }
  | {
    readonly op: "with";
    readonly path: string;
    readonly async: boolean;
    readonly node: With;
    readonly scope: ResourceScope;
    readonly steps: readonly {
      readonly step: Step<any, any>;
      readonly name: string;
      readonly path: string;
    }[];
    readonly sink: CompiledTopicSink | null;
    readonly deps: CompiledDeps;
    readonly maxConcurrency: number;
    readonly taskTimeoutMs: number | null;
    readonly inputShape: StreamShape;
  }
  | ({ readonly op: "router"; readonly path: string; readonly outputShape: StreamShape } & CompiledRouteTable)
  | ({ readonly op: "fork"; readonly path: string } & CompiledRouteTable)
  | {
    readonly op: "broadcast";
    readonly path: string;
    readonly routes: readonly {
      readonly process: CompiledProcess;
      readonly output: CompiledTopicSink | null;
    }[];
  }
  | { readonly op: "explode"; readonly path: string; readonly expander: PayloadExpander<any> }
  | {
    readonly op: "expand_routes";
    readonly path: string;
    readonly expander: PayloadExpander<any>;
    readonly routes: readonly (readonly [string, MessageType | null, CompiledProcess])[];
    readonly default: CompiledProcess | null;
  };

/**
 * The compiled route table of a Router or a Fork (branches in selection order: keyed, predicate, default).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * for (const node of compileFlow(flow, config).process.nodes) {
 *   if (node.op === "router" || node.op === "fork") console.log(node.keyed.length, node.predicates.length);
 * }
 * ```
 */
export interface CompiledRouteTable {
  /** Key selector of keyed routing, or null. */
  readonly selector: SelectorLike<any> | null;
  /** Keyed branches. */
  readonly keyed: readonly (readonly [unknown, CompiledProcess])[];
  /** Predicate branches, in order. */
  readonly predicates: readonly (readonly [PredicateLike<any>, CompiledProcess])[];
  /** Branch of unmatched messages, or null. */
  readonly default: CompiledProcess | null;
}

/**
 * Resolved dependencies of a With/WithAsync.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * for (const node of compileFlow(flow, config).process.nodes) {
 *   if (node.op === "with") console.log(Object.keys(node.deps.factories), Object.keys(node.deps.plain));
 * }
 * ```
 */
export interface CompiledDeps {
  /** Resource factories, by dependency name. */
  readonly factories: Readonly<Record<string, { create(): unknown }>>;
  /** Disposable resources, by dependency name. */
  readonly contexts: Readonly<Record<string, unknown>>;
  /** Plain values, by dependency name. */
  readonly plain: Readonly<Record<string, unknown>>;
}

/**
 * The immutable result of `compileFlow`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow,
 * } from "@loom/streaming";
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", messageType("order.created", v.object({ order_id: v.string() }))),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const config = {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g" },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * };
 * const plan = compileFlow(flow, config);
 * console.log(plan.name, plan.source.topics, plan.output?.topic, [...plan.errorRoutes.keys()]);
 * ```
 */
export interface CompiledPlan {
  /** Flow name. */
  readonly name: string;
  /** The flow that was compiled. */
  readonly flow: StreamFlow<any>;
  /** The resolved source. */
  readonly source: CompiledSource;
  /** The compiled top-level process. */
  readonly process: CompiledProcess;
  /** The resolved flow output, or null. */
  readonly output: CompiledTopicSink | null;
  /** Error routes by kind. */
  readonly errorRoutes: ReadonlyMap<ErrorKind, CompiledTopicSink>;
  /** Every Kafka output in the tree by path (IntoTopic nodes, broadcast outputs, inline With sinks, flow output). */
  readonly topicSinks: ReadonlyMap<string, CompiledTopicSink>;
  /** Every storage sink by path. */
  readonly storageSinks: ReadonlyMap<string, CompiledStorageSink>;
  /** The validated `kafka` section. */
  readonly kafka: KafkaSettings;
  /** The validated `streaming.runtime` section (with defaults). */
  readonly runtime: RuntimeSettings;
  /** The whole configuration object the plan was compiled with. */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * What the plan cannot guarantee although it compiles (e.g. `WithAsync` side effects under
   * `processing_guarantee: exactly_once`); the runners log each at start.
   */
  readonly warnings: readonly string[];
}
