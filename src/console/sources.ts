/** What the console reads besides the group's API: the application's Kafka and registry. */
import type { KafkaSettings } from "../kafka/index.js";
import type { AvroCodec } from "../schema/index.js";

export interface ConsoleSources {
  applicationId: string;
  kafka: KafkaSettings;
  codec: AvroCodec;
  /** The dead-letter topics of the live generation: its workers' first, then its participants'. */
  deadLetterTopics(): string[];
}
