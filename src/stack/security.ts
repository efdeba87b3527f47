/**
 * What `stack up --secure` makes once per state dir, under `<state dir>/security` (mode 700):
 * a CA of its own, the brokers' certificate signed by it (for 127.0.0.1 and localhost, in a
 * PKCS#12 keystore), and random passwords for the clients' user (SCRAM-SHA-512 and PLAIN),
 * the brokers' own user (PLAIN, between brokers) and the keystore, each in a file of mode 600.
 * Nothing here is ever printed; the stack names the files.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { LOCAL_SECURITY, localStackSecurity, type KafkaSecurity } from "../config/index.js";
import { ComponentFailedError } from "../errors/index.js";
import type { Properties } from "./properties.js";

const run = promisify(execFile);

/** The brokers' own user, for the connections between brokers (PLAIN, set in their JAAS). */
export const BROKER_USER = "broker";

export interface StackSecurity {
  dir: string;
  caFile: string;
  /** The brokers' key and certificate (PKCS#12) and its password. */
  keystoreFile: string;
  keystorePassword: string;
  /** The clients' user (SCRAM-SHA-512 and PLAIN, one password): the stack's own JVMs use it too. */
  username: string;
  password: string;
  passwordFile: string;
  brokerPassword: string;
  /** How the stack's Node clients (probes, topic setup) connect. */
  client: KafkaSecurity;
}

function files(root: string) {
  const dir = path.join(root, LOCAL_SECURITY.dir);
  return {
    dir,
    caKey: path.join(dir, "ca.key"),
    ca: path.join(dir, LOCAL_SECURITY.caFile),
    brokerKey: path.join(dir, "broker.key"),
    brokerCsr: path.join(dir, "broker.csr"),
    brokerCert: path.join(dir, "broker.pem"),
    keystore: path.join(dir, "broker.p12"),
    keystorePassword: path.join(dir, "keystore.password"),
    brokerPassword: path.join(dir, "broker.password"),
    password: path.join(dir, LOCAL_SECURITY.passwordFile),
  };
}

/** The security of the stack under `root`, if it was made with `--secure`. */
export function readStackSecurity(root: string): StackSecurity | undefined {
  const client = localStackSecurity(root);
  if (client?.sasl === undefined) return undefined;
  const f = files(root);
  const secret = (file: string) => readFileSync(file, "utf8").trim();
  return {
    dir: f.dir,
    caFile: f.ca,
    keystoreFile: f.keystore,
    keystorePassword: secret(f.keystorePassword),
    username: client.sasl.username,
    password: client.sasl.password,
    passwordFile: f.password,
    brokerPassword: secret(f.brokerPassword),
    client,
  };
}

/** 24 characters of [A-Za-z0-9_-]: safe inside JAAS quotes and `--add-scram`. */
function newPassword(): string {
  return randomBytes(18).toString("base64url");
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (error) {
    throw new ComponentFailedError(
      "kafka",
      `openssl ${args[0] ?? ""} failed while making the stack's certificates (is openssl installed?): ${String(error)}`,
    );
  }
}

/**
 * Makes the CA, the brokers' certificate and the passwords under `root` unless they exist
 * (the client's password file is written last: its presence marks a complete set).
 */
export async function ensureStackSecurity(root: string): Promise<StackSecurity> {
  const existing = readStackSecurity(root);
  if (existing !== undefined) return existing;
  const f = files(root);
  await rm(f.dir, { recursive: true, force: true }); // a set left half-made
  await mkdir(f.dir, { recursive: true, mode: 0o700 });
  await chmod(f.dir, 0o700);
  const secret = async (file: string, value: string) => {
    await writeFile(file, `${value}\n`, { mode: 0o600 });
  };
  // prettier-ignore
  await openssl([
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
    "-keyout", f.caKey, "-out", f.ca, "-subj", "/CN=sagastream local stack CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  // prettier-ignore
  await openssl([
    "req", "-newkey", "rsa:2048", "-nodes", "-sha256",
    "-keyout", f.brokerKey, "-out", f.brokerCsr, "-subj", "/CN=127.0.0.1",
  ]);
  const extensions = path.join(f.dir, "broker.ext");
  await writeFile(
    extensions,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  // prettier-ignore
  await openssl([
    "x509", "-req", "-sha256", "-days", "825", "-in", f.brokerCsr,
    "-CA", f.ca, "-CAkey", f.caKey, "-CAcreateserial", "-out", f.brokerCert,
    "-extfile", extensions,
  ]);
  const keystorePassword = newPassword();
  await secret(f.keystorePassword, keystorePassword);
  // prettier-ignore
  await openssl([
    "pkcs12", "-export", "-in", f.brokerCert, "-inkey", f.brokerKey, "-certfile", f.ca,
    "-name", "broker", "-out", f.keystore, "-passout", `file:${f.keystorePassword}`,
  ]);
  for (const file of [f.caKey, f.brokerKey, f.keystore]) await chmod(file, 0o600);
  await rm(f.brokerCsr, { force: true });
  await secret(f.brokerPassword, newPassword());
  await secret(f.password, newPassword());
  const made = readStackSecurity(root);
  if (made === undefined) throw new Error(`the stack's security under ${f.dir} is incomplete`);
  return made;
}

/** True when the stack under `root` was made with `--secure`. */
export function isSecureStack(root: string): boolean {
  return existsSync(files(root).password);
}

/** A Java client's JAAS line for the clients' user with SCRAM-SHA-512. */
export function scramJaas(s: StackSecurity): string {
  return `org.apache.kafka.common.security.scram.ScramLoginModule required username="${s.username}" password="${s.password}";`;
}

/** The settings a Java client (Connect, MirrorMaker 2, the registry) needs for SASL_SSL. */
export function javaClientSecurity(s: StackSecurity): Properties {
  return {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.jaas.config": scramJaas(s),
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": s.caFile,
  };
}

/** The same settings under `prefix` (`producer.`, `primary.` ...). */
export function prefixed(prefix: string, props: Properties): Properties {
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** `text` with every secret of `s` replaced by `***` (a failed tool's command line, say). */
export function redactSecrets(text: string, s: StackSecurity | undefined): string {
  if (s === undefined) return text;
  return [s.password, s.brokerPassword, s.keystorePassword].reduce(
    (out, secret) => out.split(secret).join("***"),
    text,
  );
}
