// The watch daemon's loopback HTTP listener (/healthz, /readyz, /status, /metrics) as the daemon
// sees it. Implemented with node:http (src/adapters/http/health-server.ts).

/** What the endpoints answer; computed on each request. */
export interface HealthHandlers {
  ready(): { ready: boolean; reason: string | null };
  /** The /status document (serialised as JSON). */
  status(): unknown;
  /** Prometheus text exposition and its content type. */
  metrics(): { contentType: string; body: string };
}

/** A listener that is bound. */
export interface HealthServer {
  /** `host:port` actually bound. */
  address: string;
  close(): Promise<void>;
}

export interface HealthServers {
  /** Binds `listen` (`host:port`, loopback: checked by the settings). */
  start(listen: string, handlers: HealthHandlers): Promise<HealthServer>;
}
