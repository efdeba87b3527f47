/** The Java client's default partitioner (murmur2 of the key bytes), as kafkajs implements it. */
import { Partitioners } from "kafkajs";

const javaCompatible = Partitioners.DefaultPartitioner();

export function partitionForKey(key: Buffer, partitionCount: number): number {
  return javaCompatible({
    topic: "",
    partitionMetadata: Array.from({ length: partitionCount }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    })),
    message: { key, value: null },
  });
}
