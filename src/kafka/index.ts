/**
 * The engine's Kafka clients, on @platformatic/kafka: plain settings instead of a client
 * object, producers, consumers and admins made from them, a consumer loop that commits only
 * what was handled, the Java client's partitioner, retries, and dead letters. (kafkajs,
 * for the parts that have not moved yet, is in kafkajs-legacy.ts, outside this entry.)
 */
export {
  baseOptions,
  securityOptions,
  setDefaultKafkaSecurity,
  type ClientOptions,
  type KafkaSettings,
} from "./settings.js";
export { explainSecurityFailure } from "./security-errors.js";
export {
  createProducer,
  FlatBatchProducer,
  PRODUCER_RETRIES,
  type Bytes,
  type KafkaProducer,
  type ProducedRecord,
  type ProducerOptions,
} from "./producer.js";
export {
  createConsumer,
  createReader,
  ReadCommittedConsumer,
  type ConsumerOptions,
  type KafkaConsumer,
  type KafkaMessage,
} from "./consumer.js";
export {
  createAdmin,
  ensureTopics,
  topicOffsets,
  waitForLeaders,
  withAdmin,
  type KafkaAdmin,
  type PartitionOffsets,
  type TopicSpec,
} from "./admin.js";
export {
  headerText,
  recordOrigin,
  startConsuming,
  type ConsumedRecord,
  type Consuming,
  type ConsumingOptions,
} from "./consume.js";
export { isControlBatch } from "./read-committed.js";
export { javaCompatiblePartitioner, murmur2, partitionForKey } from "./partitioner.js";
export {
  BACKOFF,
  backoffMs,
  isRetriable,
  kafkaErrorId,
  retrying,
  transactionalRetryDelay,
} from "./retry.js";
export {
  DLQ_HEADERS,
  deadLetterHeaders,
  deadLetterTopic,
  ensureDeadLetterTopic,
  sendDeadLetter,
  type DeadRecord,
  type SourceHeaders,
} from "./dead-letter.js";
