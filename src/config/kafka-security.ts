/**
 * How a Kafka client authenticates and encrypts: the security protocol, SASL (SCRAM-SHA-512,
 * SCRAM-SHA-256, PLAIN) and TLS, read from env keys named after the Java client's settings
 * (`security.protocol` → KAFKA_SECURITY_PROTOCOL, `sasl.mechanism` → KAFKA_SASL_MECHANISM, ...).
 * A local stack started with `stack up --secure` is found by its state dir instead.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors/index.js";

export const SecurityProtocol = {
  Plaintext: "PLAINTEXT",
  Ssl: "SSL",
  SaslPlaintext: "SASL_PLAINTEXT",
  SaslSsl: "SASL_SSL",
} as const;
export type SecurityProtocol = (typeof SecurityProtocol)[keyof typeof SecurityProtocol];

export const SaslMechanism = {
  ScramSha512: "SCRAM-SHA-512",
  ScramSha256: "SCRAM-SHA-256",
  Plain: "PLAIN",
} as const;
export type SaslMechanism = (typeof SaslMechanism)[keyof typeof SaslMechanism];

/** A plain value: every Kafka client of a process is made with one (see KafkaSettings). */
export interface KafkaSecurity {
  protocol: SecurityProtocol;
  /** With SASL_SSL and SASL_PLAINTEXT. */
  sasl?: {
    mechanism: SaslMechanism;
    username: string;
    password: string;
    /** Where the password was read from, shown instead of it. */
    passwordFile?: string;
  };
  /**
   * With SSL and SASL_SSL: PEM files. Without `caFile` the brokers' certificates are checked
   * against the system's CAs; `certFile` and `keyFile` (mutual TLS) come together.
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export const PLAINTEXT: KafkaSecurity = { protocol: SecurityProtocol.Plaintext };

const file = z.string().min(1, "must be a file path");

/** The keys, merged into the configuration's schema. */
export const kafkaSecurityKeys = {
  KAFKA_SECURITY_PROTOCOL: z
    .enum(Object.values(SecurityProtocol), {
      error: `must be one of ${Object.values(SecurityProtocol).join(", ")}`,
    })
    .optional(),
  KAFKA_SASL_MECHANISM: z
    .enum(Object.values(SaslMechanism), {
      error: `must be one of ${Object.values(SaslMechanism).join(", ")}`,
    })
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD_FILE: file.optional(),
  KAFKA_SSL_CA_FILE: file.optional(),
  KAFKA_SSL_CERT_FILE: file.optional(),
  KAFKA_SSL_KEY_FILE: file.optional(),
};

type Keys = { [K in keyof typeof kafkaSecurityKeys]?: z.output<(typeof kafkaSecurityKeys)[K]> };

const SASL_KEYS = [
  "KAFKA_SASL_MECHANISM",
  "KAFKA_SASL_USERNAME",
  "KAFKA_SASL_PASSWORD",
  "KAFKA_SASL_PASSWORD_FILE",
] as const;
const SSL_KEYS = ["KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE"] as const;

function readable(key: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(key, `names a file that cannot be read: ${file} (${code})`);
  }
}

/**
 * The security the keys describe, checked together: SASL keys need a SASL protocol and SSL
 * files an SSL one, a SASL protocol needs a username and one password, a certificate needs
 * its key. `otherwise` is used when no key is set (a secure local stack, else PLAINTEXT).
 */
export function kafkaSecurityOf(keys: Keys, otherwise: KafkaSecurity = PLAINTEXT): KafkaSecurity {
  const protocol = keys.KAFKA_SECURITY_PROTOCOL;
  const set = [...SASL_KEYS, ...SSL_KEYS].filter((k) => keys[k] !== undefined);
  if (protocol === undefined) {
    if (set.length === 0) return otherwise;
    throw new ConfigError(
      "KAFKA_SECURITY_PROTOCOL",
      `must be set (SASL_SSL, SASL_PLAINTEXT or SSL) when ${set.join(", ")} ${set.length > 1 ? "are" : "is"} set`,
    );
  }
  const isSasl = protocol === "SASL_SSL" || protocol === "SASL_PLAINTEXT";
  const isSsl = protocol === "SASL_SSL" || protocol === "SSL";
  for (const key of isSasl ? [] : SASL_KEYS) {
    if (keys[key] !== undefined) {
      throw new ConfigError(
        key,
        `is set, but KAFKA_SECURITY_PROTOCOL is ${protocol}: use SASL_SSL`,
      );
    }
  }
  for (const key of isSsl ? [] : SSL_KEYS) {
    if (keys[key] !== undefined) {
      throw new ConfigError(
        key,
        `is set, but KAFKA_SECURITY_PROTOCOL is ${protocol}: use SASL_SSL or SSL`,
      );
    }
  }
  const security: KafkaSecurity = { protocol };
  if (isSasl) {
    const username = keys.KAFKA_SASL_USERNAME;
    if (username === undefined) {
      throw new ConfigError(
        "KAFKA_SASL_USERNAME",
        `must be set with KAFKA_SECURITY_PROTOCOL=${protocol}`,
      );
    }
    const passwordFile = keys.KAFKA_SASL_PASSWORD_FILE;
    if ((keys.KAFKA_SASL_PASSWORD === undefined) === (passwordFile === undefined)) {
      throw new ConfigError(
        "KAFKA_SASL_PASSWORD",
        `or KAFKA_SASL_PASSWORD_FILE (one of them) must be set with KAFKA_SECURITY_PROTOCOL=${protocol}`,
      );
    }
    const password =
      keys.KAFKA_SASL_PASSWORD ??
      readable("KAFKA_SASL_PASSWORD_FILE", passwordFile ?? "").replace(/\r?\n$/, "");
    if (password === "") {
      throw new ConfigError(
        "KAFKA_SASL_PASSWORD_FILE",
        `names an empty file: ${passwordFile ?? ""}`,
      );
    }
    security.sasl = {
      mechanism: keys.KAFKA_SASL_MECHANISM ?? "SCRAM-SHA-512",
      username,
      password,
      ...(passwordFile === undefined ? {} : { passwordFile }),
    };
  }
  if (isSsl) {
    if ((keys.KAFKA_SSL_CERT_FILE === undefined) !== (keys.KAFKA_SSL_KEY_FILE === undefined)) {
      const missing =
        keys.KAFKA_SSL_CERT_FILE === undefined ? "KAFKA_SSL_CERT_FILE" : "KAFKA_SSL_KEY_FILE";
      throw new ConfigError(
        missing,
        "must be set too: a client certificate needs its key, and a key its certificate",
      );
    }
    const tls: NonNullable<KafkaSecurity["tls"]> = {};
    for (const [key, field] of [
      ["KAFKA_SSL_CA_FILE", "caFile"],
      ["KAFKA_SSL_CERT_FILE", "certFile"],
      ["KAFKA_SSL_KEY_FILE", "keyFile"],
    ] as const) {
      const value = keys[key];
      if (value === undefined) continue;
      readable(key, value);
      tls[field] = path.resolve(value);
    }
    security.tls = tls;
  }
  return security;
}

/** The security the KAFKA_* keys of `env` describe (PLAINTEXT when none is set). */
export function kafkaSecurityFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): KafkaSecurity {
  const schema = z.object(kafkaSecurityKeys);
  const raw: Record<string, string> = {};
  for (const key of Object.keys(kafkaSecurityKeys)) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? "KAFKA_SECURITY_PROTOCOL");
    throw new ConfigError(
      key,
      `${issue?.message ?? "is invalid"} (got ${JSON.stringify(raw[key])})`,
    );
  }
  return kafkaSecurityOf(parsed.data);
}

/** The env lines that give a client `security`: the password as its file, or `***`. */
export function kafkaSecurityEnv(
  security: KafkaSecurity,
  options: { revealPassword: boolean },
): Record<string, string> {
  if (security.protocol === "PLAINTEXT") return {};
  const env: Record<string, string> = { KAFKA_SECURITY_PROTOCOL: security.protocol };
  const { sasl, tls } = security;
  if (sasl !== undefined) {
    env.KAFKA_SASL_MECHANISM = sasl.mechanism;
    env.KAFKA_SASL_USERNAME = sasl.username;
    if (sasl.passwordFile !== undefined) env.KAFKA_SASL_PASSWORD_FILE = sasl.passwordFile;
    else env.KAFKA_SASL_PASSWORD = options.revealPassword ? sasl.password : "***";
  }
  if (tls?.caFile !== undefined) env.KAFKA_SSL_CA_FILE = tls.caFile;
  if (tls?.certFile !== undefined) env.KAFKA_SSL_CERT_FILE = tls.certFile;
  if (tls?.keyFile !== undefined) env.KAFKA_SSL_KEY_FILE = tls.keyFile;
  return env;
}

/**
 * Where `stack up --secure` keeps its CA, certificates and passwords, under the state dir
 * (the directory's presence with the client's password file marks the stack secure).
 */
export const LOCAL_SECURITY = {
  dir: "security",
  caFile: "ca.pem",
  /** The clients' user: SCRAM-SHA-512 and PLAIN, one password. */
  username: "sagastream",
  passwordFile: "sagastream.password",
} as const;

/** The security of the local stack under `stateDir`, if it was created with `--secure`. */
export function localStackSecurity(stateDir: string): KafkaSecurity | undefined {
  const dir = path.join(stateDir, LOCAL_SECURITY.dir);
  const passwordFile = path.join(dir, LOCAL_SECURITY.passwordFile);
  if (!existsSync(passwordFile)) return undefined;
  return {
    protocol: "SASL_SSL",
    sasl: {
      mechanism: "SCRAM-SHA-512",
      username: LOCAL_SECURITY.username,
      password: readFileSync(passwordFile, "utf8").trim(),
      passwordFile,
    },
    tls: { caFile: path.join(dir, LOCAL_SECURITY.caFile) },
  };
}
