/**
 * Turns a client's failure to connect for a reason of security (credentials refused, TLS
 * expected, a certificate not trusted) into a KafkaSecurityError that says which setting to
 * change; any other error is returned as it is.
 */
import { KafkaSecurityError } from "../errors/index.js";
import { effectiveSecurity, type KafkaSettings } from "./settings.js";

/** The messages of `error`, its nested errors (`errors`) and causes, depth first. */
function messagesOf(error: unknown, depth = 0): string[] {
  if (!(error instanceof Error) || depth > 4) return [];
  const nested = (error as { errors?: unknown }).errors;
  return [
    error.message,
    ...(Array.isArray(nested) ? nested.flatMap((e) => messagesOf(e, depth + 1)) : []),
    ...messagesOf(error.cause, depth + 1),
  ];
}

export function explainSecurityFailure(error: unknown, settings: KafkaSettings): unknown {
  const messages = messagesOf(error);
  const said = (pattern: RegExp) => messages.find((m) => pattern.test(m));
  const brokers = settings.brokers.join(",");
  const security = effectiveSecurity(settings);
  if (said(/SASL authentication failed/i) !== undefined) {
    const who =
      security.sasl === undefined
        ? "this client's credentials"
        : `the credentials of user "${security.sasl.username}" (${security.sasl.mechanism})`;
    return new KafkaSecurityError(
      brokers,
      `refused ${who}: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE), and KAFKA_SASL_MECHANISM`,
    );
  }
  if (said(/Broker requires TLS/i) !== undefined) {
    return new KafkaSecurityError(
      brokers,
      `listens with TLS, and this client connects with ${security.protocol}: set ` +
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL (with KAFKA_SASL_USERNAME and a password) or SSL, " +
        "and KAFKA_SSL_CA_FILE to the CA that signed the brokers' certificates",
    );
  }
  const untrusted = said(/certificate|unable to verify|altnames/i);
  if (untrusted !== undefined) {
    return new KafkaSecurityError(
      brokers,
      `presented a certificate this client does not trust (${untrusted}): set ` +
        "KAFKA_SSL_CA_FILE to the CA that signed it",
    );
  }
  // A SASL listener closes the connection of a client that skips the handshake, with no reason
  // given; a client with TLS and no SASL meeting that is most likely this.
  if (security.protocol === "SSL" && said(/^Connection closed/) !== undefined) {
    return new KafkaSecurityError(
      brokers,
      "closed the connection of this SSL client (no SASL): if its listener requires SASL, set " +
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL with KAFKA_SASL_USERNAME and a password",
    );
  }
  return error;
}
