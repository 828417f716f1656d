/**
 * The immutable plan produced by `compileFlow` and executed by the engine.
 *
 * @module
 */
import type { ErrorKind } from "./_message.ts";
import type { MessageType } from "./_type.ts";
import type { PredicateLike, SelectorLike } from "./_expr.ts";
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
} from "./_nodes.ts";
import type { ConsumerSettings, KafkaSettings, ProducerSettings, RuntimeSettings } from "./_settings.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A resolved Kafka output. */
export interface CompiledTopicSink {
  /** Logical name (`IntoTopic.name`). */
  readonly logical: string;
  /** Physical topic. */
  readonly topic: string;
  readonly settings: ProducerSettings;
  readonly partitioning: PartitionPolicy<Any> | null;
  readonly dlq: string | null;
  readonly payloadType: MessageType | null;
  /** Node path, e.g. `process[2].routes[0].process[1]` or `output`. */
  readonly path: string;
}

/** A resolved storage sink. */
export interface CompiledStorageSink {
  readonly sink: IntoSink<Any>;
  readonly name: string;
  /** `streaming.sinks.<name>` as written, or null when the sink brings its own writer. */
  readonly section: Readonly<Record<string, unknown>> | null;
  readonly path: string;
}

/** Multi-type dispatch table (built from `FromMultiTypeTopic.payloads`). */
export interface DispatchTable {
  readonly plain: ReadonlyMap<string, MessageType>;
  /** Error envelopes by original payload type name. */
  readonly error: ReadonlyMap<string, MessageType>;
  /** True when decode errors (`loom.streaming.error.wire`) are accepted as payloads. */
  readonly wire: boolean;
}

/** A resolved source. */
export interface CompiledSource {
  readonly kind: "single" | "multi";
  readonly logical: string;
  readonly settings: ConsumerSettings;
  readonly topics: readonly string[];
  readonly shape: StreamShape;
  /** Payload type of a single-type source. */
  readonly payloadType: MessageType | null;
  /** Dispatch table of a multi-type source. */
  readonly dispatch: DispatchTable | null;
}

/** A compiled process (ordered nodes plus its shapes). */
export interface CompiledProcess {
  readonly path: string;
  readonly inputShape: StreamShape;
  readonly outputShape: StreamShape;
  readonly nodes: readonly CompiledNode[];
}

/** A compiled node. */
export type CompiledNode =
  | {
    readonly op: "step";
    readonly path: string;
    readonly step: Step<Any, Any>;
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
      readonly step: Step<Any, Any>;
      readonly name: string;
      readonly path: string;
    }[];
    readonly sink: CompiledTopicSink | null;
    readonly deps: CompiledDeps;
    readonly maxConcurrency: number;
    readonly taskTimeoutMs: number | null;
    readonly inputShape: StreamShape;
  }
  | {
    readonly op: "router";
    readonly path: string;
    readonly selector: SelectorLike<Any> | null;
    readonly keyed: readonly (readonly [unknown, CompiledProcess])[];
    readonly predicates: readonly (readonly [PredicateLike<Any>, CompiledProcess])[];
    readonly default: CompiledProcess | null;
    readonly outputShape: StreamShape;
  }
  | {
    readonly op: "fork";
    readonly path: string;
    readonly selector: SelectorLike<Any> | null;
    readonly keyed: readonly (readonly [unknown, CompiledProcess])[];
    readonly predicates: readonly (readonly [PredicateLike<Any>, CompiledProcess])[];
    readonly default: CompiledProcess | null;
  }
  | {
    readonly op: "broadcast";
    readonly path: string;
    readonly routes: readonly {
      readonly process: CompiledProcess;
      readonly output: CompiledTopicSink | null;
    }[];
  }
  | { readonly op: "explode"; readonly path: string; readonly expander: PayloadExpander<Any> }
  | {
    readonly op: "expand_routes";
    readonly path: string;
    readonly expander: PayloadExpander<Any>;
    readonly routes: readonly (readonly [string, MessageType | null, CompiledProcess])[];
    readonly default: CompiledProcess | null;
  };

/** Resolved dependencies of a With/WithAsync. */
export interface CompiledDeps {
  readonly factories: Readonly<Record<string, { create(): unknown }>>;
  readonly contexts: Readonly<Record<string, unknown>>;
  readonly plain: Readonly<Record<string, unknown>>;
}

/** The immutable result of `compileFlow`. */
export interface CompiledPlan {
  readonly name: string;
  readonly flow: StreamFlow<Any>;
  readonly source: CompiledSource;
  readonly process: CompiledProcess;
  readonly output: CompiledTopicSink | null;
  readonly errorRoutes: ReadonlyMap<ErrorKind, CompiledTopicSink>;
  /** Every Kafka output in the tree by path (IntoTopic nodes, broadcast outputs, inline With sinks, flow output). */
  readonly topicSinks: ReadonlyMap<string, CompiledTopicSink>;
  /** Every storage sink by path. */
  readonly storageSinks: ReadonlyMap<string, CompiledStorageSink>;
  readonly kafka: KafkaSettings;
  readonly runtime: RuntimeSettings;
  /** The whole configuration object the plan was compiled with. */
  readonly config: Readonly<Record<string, unknown>>;
}
