// Who applies a generation and from which revision of the manifests, recorded with it for
// `orch history`. Implemented by asking the system and git (src/adapters/git/provenance.ts).
import type { GenerationProvenance } from './state-store.js';

export interface ProvenanceSource {
  /** Who is running orch: `user@host`, or `alice (as root)@host` under sudo. */
  actor(): string;
  /** The applying user and the manifests' git commit (null outside a git work tree). Never throws. */
  current(): Promise<GenerationProvenance>;
}
