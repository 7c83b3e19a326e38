/** What every service (ingest-api, packer, poller, dispatcher) gives back when started. */
export interface Service {
  name: string;
  /** Ready to do its work (Redis answers, workers running). */
  ready(): Promise<boolean>;
  /** Stops intake and drains in-flight work; idempotent. */
  close(): Promise<void>;
}
