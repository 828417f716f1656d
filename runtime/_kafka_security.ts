/**
 * The original's `security` section (protocol, SASL, CA file) checked and resolved once for both Kafka
 * adapters: each maps the result onto its client's options.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import type { KafkaSecuritySettings } from "../streaming/_settings.ts";
import { KafkaConfigError } from "./kafkajs/_errors.ts";

/** A SASL mechanism both clients implement, in the original's (Kafka's) spelling. */
export type SaslMechanism = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";

const SASL_MECHANISMS: ReadonlySet<string> = new Set(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);

/** What a client needs of the security section. */
export interface ResolvedSecurity {
  /** TLS: null for none; `ca` when `ssl_ca_location` names a CA file (its contents). */
  readonly tls: { readonly ca?: readonly string[] } | null;
  /** SASL credentials, or null. */
  readonly sasl: {
    readonly mechanism: SaslMechanism;
    readonly username: string;
    readonly password: string;
  } | null;
}

const NONE: ResolvedSecurity = Object.freeze({ tls: null, sasl: null });

/**
 * Checks the security settings and resolves them (reads the CA file).
 *
 * @param security The section, or null.
 * @param role `producer` or `consumer` (named in errors).
 * @returns TLS and SASL options.
 * @throws {KafkaConfigError} When fields contradict the protocol, the mechanism is not PLAIN / SCRAM, the
 *   credentials are incomplete, or the CA file cannot be read.
 */
export function resolveSecurity(security: KafkaSecuritySettings | null, role: string): ResolvedSecurity {
  if (security === null || security.protocol === "PLAINTEXT") {
    if (security !== null && (security.saslMechanism !== null || security.sslCaLocation !== null)) {
      throw new KafkaConfigError(
        `kafka ${role} security: protocol PLAINTEXT ignores sasl_mechanism/ssl_ca_location; ` +
          `set protocol to SSL, SASL_SSL or SASL_PLAINTEXT, or remove them`,
        "security.protocol",
      );
    }
    return NONE;
  }
  const { protocol } = security;
  let tls: ResolvedSecurity["tls"] = null;
  if (protocol === "SSL" || protocol === "SASL_SSL") {
    if (security.sslCaLocation !== null) {
      let ca: string;
      try {
        ca = readFileSync(security.sslCaLocation, "utf8");
      } catch (e) {
        throw new KafkaConfigError(
          `kafka ${role} security.ssl_ca_location: cannot read CA file "${security.sslCaLocation}": ` +
            `${(e as Error).message}`,
          "ssl.ca.location",
        );
      }
      tls = { ca: [ca] };
    } else {
      tls = {};
    }
  } else if (security.sslCaLocation !== null) {
    throw new KafkaConfigError(
      `kafka ${role} security: ssl_ca_location needs protocol SSL or SASL_SSL (got ${protocol})`,
      "ssl.ca.location",
    );
  }
  let sasl: ResolvedSecurity["sasl"] = null;
  if (protocol === "SASL_SSL" || protocol === "SASL_PLAINTEXT") {
    const raw = security.saslMechanism;
    const mechanism = raw === null ? "" : raw.trim().toUpperCase();
    if (!SASL_MECHANISMS.has(mechanism)) {
      throw new KafkaConfigError(
        `kafka ${role} security: protocol ${protocol} needs sasl_mechanism PLAIN, SCRAM-SHA-256 or ` +
          `SCRAM-SHA-512 (got ${JSON.stringify(raw)}; GSSAPI and OAUTHBEARER are not supported)`,
        "sasl.mechanism",
      );
    }
    if (security.saslUsername === null || security.saslPassword === null) {
      throw new KafkaConfigError(
        `kafka ${role} security: sasl_mechanism ${raw} needs sasl_username and sasl_password`,
        "sasl.username",
      );
    }
    sasl = {
      mechanism: mechanism as SaslMechanism,
      username: security.saslUsername,
      password: security.saslPassword,
    };
  } else if (security.saslMechanism !== null || security.saslUsername !== null) {
    throw new KafkaConfigError(
      `kafka ${role} security: sasl_* fields need protocol SASL_SSL or SASL_PLAINTEXT (got ${protocol})`,
      "sasl.mechanism",
    );
  }
  return { tls, sasl };
}
