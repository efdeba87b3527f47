/**
 * A `--secure` stack's generated configs: the brokers' SASL_SSL listener (SCRAM-SHA-512 and
 * PLAIN, the controller listener still PLAINTEXT), and the registry, Connect and MirrorMaker 2
 * as SASL_SSL clients; and the secrets kept out of command lines and error messages.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import type { StackContext } from "../../src/stack/component.js";
import { connectWorkerProperties } from "../../src/stack/components/connect.js";
import { brokerProperties } from "../../src/stack/components/kafka.js";
import { mirrorMakerProperties } from "../../src/stack/components/mirror-maker.js";
import { registrySecurityProperties } from "../../src/stack/components/registry.js";
import { stackPaths } from "../../src/stack/paths.js";
import { redactSecrets, type StackSecurity } from "../../src/stack/security.js";

const security: StackSecurity = {
  dir: "/srv/.stack/security",
  caFile: "/srv/.stack/security/ca.pem",
  keystoreFile: "/srv/.stack/security/broker.p12",
  keystorePassword: "KEYSTORE-PW",
  username: "sagastream",
  password: "CLIENT-PW",
  passwordFile: "/srv/.stack/security/sagastream.password",
  brokerPassword: "BROKER-PW",
  client: { protocol: "SASL_SSL" },
};
const plain = {
  config: loadConfig({}, {}, "/srv"),
  paths: stackPaths("/srv/.stack"),
  brokers: 1,
  security: undefined,
} as StackContext;
const secure = { ...plain, security } as StackContext;
const SCRAM_JAAS =
  'org.apache.kafka.common.security.scram.ScramLoginModule required username="sagastream" password="CLIENT-PW";';

describe("a secure stack's brokers", () => {
  const props = brokerProperties("/data", 1, 19092, [19093], security);

  it("listen with SASL_SSL for clients and each other; the controller stays PLAINTEXT on 127.0.0.1", () => {
    expect(props.listeners).toBe("SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
    expect(props["advertised.listeners"]).toBe("SASL_SSL://127.0.0.1:19092");
    expect(props["inter.broker.listener.name"]).toBe("SASL_SSL");
    expect(props["listener.security.protocol.map"]).toBe("CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL");
  });

  it("take SCRAM-SHA-512 and PLAIN; PLAIN knows the brokers' user and the clients' user", () => {
    expect(props["sasl.enabled.mechanisms"]).toBe("SCRAM-SHA-512,PLAIN");
    expect(props["sasl.mechanism.inter.broker.protocol"]).toBe("PLAIN");
    expect(props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]).toBe(
      "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    );
    expect(props["listener.name.sasl_ssl.plain.sasl.jaas.config"]).toBe(
      'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" ' +
        'password="BROKER-PW" user_broker="BROKER-PW" user_sagastream="CLIENT-PW";',
    );
  });

  it("present the certificate from the keystore and trust the stack's CA", () => {
    expect(props["ssl.keystore.type"]).toBe("PKCS12");
    expect(props["ssl.keystore.location"]).toBe("/srv/.stack/security/broker.p12");
    expect(props["ssl.keystore.password"]).toBe("KEYSTORE-PW");
    expect(props["ssl.truststore.type"]).toBe("PEM");
    expect(props["ssl.truststore.location"]).toBe("/srv/.stack/security/ca.pem");
  });

  it("differ from a plain stack's only in security", () => {
    const plainProps = brokerProperties("/data", 1, 19092, [19093]);
    expect(plainProps.listeners).toBe("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
    expect(Object.keys(plainProps).some((k) => k.startsWith("sasl.") || k.startsWith("ssl."))).toBe(
      false,
    );
    for (const [key, value] of Object.entries(plainProps)) {
      if (!/listener/.test(key)) expect(props[key], key).toBe(value);
    }
  });
});

describe("a secure stack's own Java clients", () => {
  const client = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.jaas.config": SCRAM_JAAS,
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": "/srv/.stack/security/ca.pem",
  };

  it("Connect: the worker and its connectors' producers, consumers and admins", () => {
    const props = connectWorkerProperties(secure, "primary");
    for (const prefix of ["", "producer.", "consumer.", "admin."]) {
      for (const [key, value] of Object.entries(client)) {
        expect(props[`${prefix}${key}`], `${prefix}${key}`).toBe(value);
      }
    }
    expect(connectWorkerProperties(plain, "primary")["security.protocol"]).toBeUndefined();
  });

  it("Connect in the DR region: the same, against the DR cluster", () => {
    const props = connectWorkerProperties(secure, "dr");
    expect(props["bootstrap.servers"]).toBe("127.0.0.1:29092");
    for (const prefix of ["", "producer.", "consumer.", "admin."]) {
      for (const [key, value] of Object.entries(client)) {
        expect(props[`${prefix}${key}`], `${prefix}${key}`).toBe(value);
      }
    }
  });

  it("MirrorMaker 2: both clusters", () => {
    const props = mirrorMakerProperties(secure);
    for (const cluster of ["primary.", "dr."]) {
      for (const [key, value] of Object.entries(client)) {
        expect(props[`${cluster}${key}`], `${cluster}${key}`).toBe(value);
      }
    }
    expect(mirrorMakerProperties(plain)["primary.security.protocol"]).toBeUndefined();
  });

  it("the registry: every Kafka client through apicurio.kafka.common.*", () => {
    const props = registrySecurityProperties(secure);
    for (const [key, value] of Object.entries(client)) {
      expect(props[`apicurio.kafka.common.${key}`], key).toBe(value);
    }
    expect(registrySecurityProperties(plain)).toEqual({});
  });
});

describe("redactSecrets", () => {
  it("hides every generated password in a failed tool's output", () => {
    const text =
      "Command failed: java kafka.tools.StorageTool format --add-scram " +
      "SCRAM-SHA-512=[name=sagastream,password=CLIENT-PW] (BROKER-PW, KEYSTORE-PW)";
    const redacted = redactSecrets(text, security);
    expect(redacted).toBe(
      "Command failed: java kafka.tools.StorageTool format --add-scram " +
        "SCRAM-SHA-512=[name=sagastream,password=***] (***, ***)",
    );
    expect(redactSecrets(text, undefined)).toBe(text);
  });
});
