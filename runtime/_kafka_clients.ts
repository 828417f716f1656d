/**
 * Picks the Kafka client adapter (`streaming.runtime.kafka_client`): @platformatic/kafka (default) or
 * kafkajs. Both implement the core's {@link ConsumerPort} and {@link ProducerClientPort} with the same
 * guarantees (tests/kafka_adapter_conformance_test.ts runs one suite against both).
 *
 * @module
 */

import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import type { ConsumerPort, ProducerClientPort } from "../streaming/_transport.ts";
import {
  type KafkaClientOptions,
  KafkaConfigError,
  KafkaConsumerClient,
  KafkaProducerClient,
} from "./kafkajs/mod.ts";
import { PlatformaticConsumerClient } from "./platformatic/_consumer.ts";
import { PlatformaticProducerClient } from "./platformatic/_producer.ts";

/**
 * The Kafka client adapters.
 *
 * @example
 * ```ts
 * import type { KafkaClientKind } from "@loom/streaming/runtime";
 * const kind: KafkaClientKind = "platformatic";
 * ```
 */
export type KafkaClientKind = "platformatic" | "kafkajs";

/** Every adapter name, default first. */
export const KAFKA_CLIENT_KINDS: readonly KafkaClientKind[] = Object.freeze(["platformatic", "kafkajs"]);

/**
 * Builds producers and consumers of one adapter.
 *
 * @example
 * ```ts ignore
 * const clients: KafkaClients = createKafkaClients("platformatic");
 * const producer = clients.producer(producerSettings);
 * ```
 */
export interface KafkaClients {
  /** The adapter. */
  readonly kind: KafkaClientKind;
  /** A new (unconnected) producer. */
  producer(settings: ProducerSettings): ProducerClientPort;
  /** A new (unconnected) group consumer. */
  consumer(settings: ConsumerSettings): ConsumerPort;
  /** A new transactional producer (exactly-once processing); platformatic only. */
  readonly transactionalProducer?: (
    settings: ProducerSettings,
    transactionalId: string,
  ) => ProducerClientPort;
}

/**
 * The client factory of an adapter: `platformatic` (default; 2.5–3.5× kafkajs's raw throughput here)
 * or `kafkajs`. An unknown name throws a {@link KafkaConfigError} listing the valid ones.
 *
 * @param kind Adapter name (`streaming.runtime.kafka_client`).
 * @param options Logger options passed to every client.
 * @returns The factory.
 * @throws {KafkaConfigError} When `kind` is not an adapter name.
 * @example
 * ```ts
 * import { createKafkaClients } from "@loom/streaming/runtime";
 * const clients = createKafkaClients("kafkajs");
 * clients.kind; // "kafkajs"
 * ```
 */
export function createKafkaClients(
  kind: KafkaClientKind = "platformatic",
  options: KafkaClientOptions = {},
): KafkaClients {
  switch (kind) {
    case "platformatic":
      return {
        kind,
        producer: (s) => new PlatformaticProducerClient(s, options),
        consumer: (s) => new PlatformaticConsumerClient(s, options),
        transactionalProducer: (s, id) => new PlatformaticProducerClient(s, options, id),
      };
    case "kafkajs":
      return {
        kind,
        producer: (s) => new KafkaProducerClient(s, options),
        consumer: (s) => new KafkaConsumerClient(s, options),
      };
    default:
      throw new KafkaConfigError(
        `streaming.runtime.kafka_client must be one of ${KAFKA_CLIENT_KINDS.join(", ")}, got ${
          JSON.stringify(kind)
        }`,
        "kafka_client",
      );
  }
}
