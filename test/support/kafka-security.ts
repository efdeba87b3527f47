/**
 * Every integration test file's Kafka clients take the run's security (global setup's
 * connections: KAFKA_SECURITY_PROTOCOL & co., or a local stack made with `--secure`), also
 * those made from a broker list only (a saga worker's) and those of the workers it spawns.
 */
import { inject } from "vitest";
import { kafkaSecurityEnv } from "../../src/config/index.js";
import { setDefaultKafkaSecurity } from "../../src/kafka/index.js";

const { kafkaSecurity } = inject("connections");
setDefaultKafkaSecurity(kafkaSecurity);
Object.assign(process.env, kafkaSecurityEnv(kafkaSecurity, { revealPassword: true }));
