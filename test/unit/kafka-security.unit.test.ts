/**
 * Kafka client security: the KAFKA_SECURITY_PROTOCOL & co. keys (good values and each bad
 * one naming its key), what the clients are made with (baseOptions' sasl and tls), the env
 * lines that give a client the same settings, and the errors a refused client gets.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectionEnv,
  kafkaSecurityEnv,
  kafkaSecurityFromEnv,
  loadConfig,
  type KafkaSecurity,
} from "../../src/config/index.js";
import { ConfigError, KafkaSecurityError } from "../../src/errors/index.js";
import {
  baseOptions,
  explainSecurityFailure,
  setDefaultKafkaSecurity,
} from "../../src/kafka/index.js";

let dir = "";
let ca = "";
let passwordFile = "";

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "kafka-security-"));
  ca = path.join(dir, "ca.pem");
  passwordFile = path.join(dir, "password");
  await writeFile(ca, "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
  await writeFile(path.join(dir, "cert.pem"), "CERT");
  await writeFile(path.join(dir, "key.pem"), "KEY");
  await writeFile(passwordFile, "from-file\n");
  await writeFile(path.join(dir, "empty"), "");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  setDefaultKafkaSecurity(undefined);
});

function refusal(env: Record<string, string>): ConfigError {
  try {
    kafkaSecurityFromEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe("KAFKA_SECURITY_PROTOCOL and friends", () => {
  it("default to PLAINTEXT, with nothing else set", () => {
    expect(kafkaSecurityFromEnv({})).toEqual({ protocol: "PLAINTEXT" });
    expect(loadConfig({}, {}, dir).connections.kafkaSecurity).toEqual({ protocol: "PLAINTEXT" });
  });

  it("read SASL_SSL with SCRAM-SHA-512 (the default mechanism), a password and a CA", () => {
    expect(
      kafkaSecurityFromEnv({
        KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
        KAFKA_SASL_USERNAME: "app",
        KAFKA_SASL_PASSWORD: "pw",
        KAFKA_SSL_CA_FILE: ca,
      }),
    ).toEqual({
      protocol: "SASL_SSL",
      sasl: { mechanism: "SCRAM-SHA-512", username: "app", password: "pw" },
      tls: { caFile: ca },
    });
  });

  it("read the password from KAFKA_SASL_PASSWORD_FILE (without its newline), PLAIN too", () => {
    const security = loadConfig({
      KAFKA_BROKERS: "k:9093",
      KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: "app",
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    }).connections.kafkaSecurity;
    expect(security).toEqual({
      protocol: "SASL_PLAINTEXT",
      sasl: { mechanism: "PLAIN", username: "app", password: "from-file", passwordFile },
    });
  });

  it("read SSL with a client certificate and key (mutual TLS)", () => {
    expect(
      kafkaSecurityFromEnv({
        KAFKA_SECURITY_PROTOCOL: "SSL",
        KAFKA_SSL_CERT_FILE: path.join(dir, "cert.pem"),
        KAFKA_SSL_KEY_FILE: path.join(dir, "key.pem"),
      }),
    ).toEqual({
      protocol: "SSL",
      tls: { certFile: path.join(dir, "cert.pem"), keyFile: path.join(dir, "key.pem") },
    });
  });

  it.each([
    [
      { KAFKA_SECURITY_PROTOCOL: "TLS" },
      "KAFKA_SECURITY_PROTOCOL",
      /one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL \(got "TLS"\)/,
    ],
    [
      {
        KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
        KAFKA_SASL_MECHANISM: "GSSAPI",
        KAFKA_SASL_USERNAME: "a",
        KAFKA_SASL_PASSWORD: "p",
      },
      "KAFKA_SASL_MECHANISM",
      /one of SCRAM-SHA-512, SCRAM-SHA-256, PLAIN/,
    ],
    [
      { KAFKA_SASL_USERNAME: "app" },
      "KAFKA_SECURITY_PROTOCOL",
      /must be set .* when KAFKA_SASL_USERNAME is set/,
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KAFKA_SASL_PASSWORD: "p" },
      "KAFKA_SASL_USERNAME",
      /must be set with KAFKA_SECURITY_PROTOCOL=SASL_SSL/,
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KAFKA_SASL_USERNAME: "a" },
      "KAFKA_SASL_PASSWORD",
      /or KAFKA_SASL_PASSWORD_FILE \(one of them\) must be set/,
    ],
    [
      {
        KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
        KAFKA_SASL_USERNAME: "a",
        KAFKA_SASL_PASSWORD: "p",
        KAFKA_SASL_PASSWORD_FILE: "/x",
      },
      "KAFKA_SASL_PASSWORD",
      /one of them/,
    ],
    [
      {
        KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
        KAFKA_SASL_USERNAME: "a",
        KAFKA_SASL_PASSWORD_FILE: "/no/such/file",
      },
      "KAFKA_SASL_PASSWORD_FILE",
      /cannot be read: \/no\/such\/file \(ENOENT\)/,
    ],
    [
      {
        KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
        KAFKA_SASL_USERNAME: "a",
        KAFKA_SASL_PASSWORD_FILE: "EMPTY",
      },
      "KAFKA_SASL_PASSWORD_FILE",
      /names an empty file/,
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SASL_USERNAME: "a" },
      "KAFKA_SASL_USERNAME",
      /KAFKA_SECURITY_PROTOCOL is SSL: use SASL_SSL/,
    ],
    [
      {
        KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
        KAFKA_SASL_USERNAME: "a",
        KAFKA_SASL_PASSWORD: "p",
        KAFKA_SSL_CA_FILE: "CA",
      },
      "KAFKA_SSL_CA_FILE",
      /is SASL_PLAINTEXT: use SASL_SSL or SSL/,
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_CA_FILE: "/no/ca.pem" },
      "KAFKA_SSL_CA_FILE",
      /cannot be read: \/no\/ca\.pem/,
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_CERT_FILE: "CERT" },
      "KAFKA_SSL_KEY_FILE",
      /must be set too: a client certificate needs its key/,
    ],
  ])("refuse %j naming %s", (env, key, problem) => {
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [
        k,
        v === "EMPTY"
          ? path.join(dir, "empty")
          : v === "CA"
            ? ca
            : v === "CERT"
              ? path.join(dir, "cert.pem")
              : v,
      ]),
    );
    const error = refusal(resolved);
    expect(error.key).toBe(key);
    expect(error.message).toMatch(problem);
    // loadConfig names the same key
    expect(() => loadConfig(resolved)).toThrow(error.message);
  });

  it("give env lines that name the password's file, or hide the password", () => {
    const security: KafkaSecurity = {
      protocol: "SASL_SSL",
      sasl: { mechanism: "PLAIN", username: "app", password: "pw" },
      tls: { caFile: ca },
    };
    expect(kafkaSecurityEnv(security, { revealPassword: false })).toEqual({
      KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: "app",
      KAFKA_SASL_PASSWORD: "***",
      KAFKA_SSL_CA_FILE: ca,
    });
    expect(kafkaSecurityEnv(security, { revealPassword: true }).KAFKA_SASL_PASSWORD).toBe("pw");
    // and they read back as the same security
    expect(kafkaSecurityFromEnv(kafkaSecurityEnv(security, { revealPassword: true }))).toEqual(
      security,
    );
    expect(kafkaSecurityEnv({ protocol: "PLAINTEXT" }, { revealPassword: true })).toEqual({});
  });
});

describe("a --secure local stack, remembered in its state dir", () => {
  it("gives clients its SASL_SSL settings unless KAFKA_BROKERS or KAFKA_SECURITY_PROTOCOL say otherwise", async () => {
    const stateDir = path.join(dir, "stack");
    await mkdir(path.join(stateDir, "security"), { recursive: true });
    await writeFile(path.join(stateDir, "security", "sagastream.password"), "generated\n");
    const security = loadConfig({ SAGASTREAM_STATE_DIR: stateDir }).connections.kafkaSecurity;
    expect(security).toEqual({
      protocol: "SASL_SSL",
      sasl: {
        mechanism: "SCRAM-SHA-512",
        username: "sagastream",
        password: "generated",
        passwordFile: path.join(stateDir, "security", "sagastream.password"),
      },
      tls: { caFile: path.join(stateDir, "security", "ca.pem") },
    });
    const printed = connectionEnv(loadConfig({ SAGASTREAM_STATE_DIR: stateDir }).connections, {
      redact: true,
    });
    expect(printed.KAFKA_SASL_PASSWORD_FILE).toBe(
      path.join(stateDir, "security", "sagastream.password"),
    );
    expect(Object.values(printed).join("\n")).not.toContain("generated");
    expect(
      loadConfig({ SAGASTREAM_STATE_DIR: stateDir, KAFKA_BROKERS: "k:9092" }).connections
        .kafkaSecurity,
    ).toEqual({ protocol: "PLAINTEXT" });
    expect(
      loadConfig({ SAGASTREAM_STATE_DIR: stateDir, KAFKA_SECURITY_PROTOCOL: "PLAINTEXT" })
        .connections.kafkaSecurity,
    ).toEqual({ protocol: "PLAINTEXT" });
  });
});

describe("baseOptions", () => {
  const settings = { brokers: ["127.0.0.1:9093"], clientId: "c" };

  it("carries SASL and TLS (the CA read from its PEM file) with SASL_SSL", () => {
    const options = baseOptions({
      ...settings,
      security: {
        protocol: "SASL_SSL",
        sasl: { mechanism: "SCRAM-SHA-512", username: "app", password: "pw" },
        tls: {
          caFile: ca,
          certFile: path.join(dir, "cert.pem"),
          keyFile: path.join(dir, "key.pem"),
        },
      },
    });
    expect(options.sasl).toEqual({ mechanism: "SCRAM-SHA-512", username: "app", password: "pw" });
    expect(options.tls).toEqual({
      ca: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
      cert: "CERT",
      key: "KEY",
    });
  });

  it("carries SASL without TLS with SASL_PLAINTEXT, TLS (system CAs) without SASL with SSL", () => {
    const saslOnly = baseOptions({
      ...settings,
      security: {
        protocol: "SASL_PLAINTEXT",
        sasl: { mechanism: "PLAIN", username: "app", password: "pw" },
      },
    });
    expect(saslOnly.sasl?.mechanism).toBe("PLAIN");
    expect(saslOnly.tls).toBeUndefined();
    const tlsOnly = baseOptions({ ...settings, security: { protocol: "SSL", tls: {} } });
    expect(tlsOnly.tls).toEqual({});
    expect(tlsOnly.sasl).toBeUndefined();
  });

  it("carries neither with PLAINTEXT", () => {
    const options = baseOptions({ ...settings, security: { protocol: "PLAINTEXT" } });
    expect(options.sasl).toBeUndefined();
    expect(options.tls).toBeUndefined();
  });

  it("uses the process's default for settings without security (a saga worker's clients)", () => {
    setDefaultKafkaSecurity({
      protocol: "SASL_SSL",
      sasl: { mechanism: "PLAIN", username: "dflt", password: "pw" },
      tls: { caFile: ca },
    });
    expect(baseOptions(settings).sasl).toEqual({
      mechanism: "PLAIN",
      username: "dflt",
      password: "pw",
    });
    expect(baseOptions(settings).tls?.ca).toContain("BEGIN CERTIFICATE");
    // explicit settings win
    expect(baseOptions({ ...settings, security: { protocol: "PLAINTEXT" } }).sasl).toBeUndefined();
  });
});

describe("explainSecurityFailure", () => {
  const security: KafkaSecurity = {
    protocol: "SASL_SSL",
    sasl: { mechanism: "SCRAM-SHA-512", username: "app", password: "pw" },
    tls: { caFile: ca },
  };
  const settings = { brokers: ["b:9093"], clientId: "c", security };
  // @platformatic/kafka's shape: MultipleErrors → NetworkError → cause
  const nested = (message: string) =>
    Object.assign(new Error("Cannot connect to any broker."), {
      errors: [new Error("Connection to b:9093 failed.", { cause: new Error(message) })],
    });

  it("names the user and the keys to check when the credentials are refused", () => {
    const error = explainSecurityFailure(nested("SASL authentication failed."), settings);
    expect(error).toBeInstanceOf(KafkaSecurityError);
    expect((error as Error).message).toBe(
      'Kafka at b:9093 refused the credentials of user "app" (SCRAM-SHA-512): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE), and KAFKA_SASL_MECHANISM',
    );
  });

  it("says to use TLS, or to trust the CA", () => {
    const plaintext = { ...settings, security: { protocol: "PLAINTEXT" as const } };
    expect(
      (explainSecurityFailure(new Error("Broker requires TLS."), plaintext) as Error).message,
    ).toMatch(
      /listens with TLS, and this client connects with PLAINTEXT: set KAFKA_SECURITY_PROTOCOL=SASL_SSL/,
    );
    expect(
      (
        explainSecurityFailure(
          nested("self-signed certificate in certificate chain"),
          settings,
        ) as Error
      ).message,
    ).toMatch(
      /does not trust \(self-signed certificate in certificate chain\): set KAFKA_SSL_CA_FILE/,
    );
  });

  it("leaves other errors alone", () => {
    const error = nested("connect ECONNREFUSED 127.0.0.1:9093");
    expect(explainSecurityFailure(error, settings)).toBe(error);
  });
});
