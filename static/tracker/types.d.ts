// Types of the page's side of the tracker, for `tsc --checkJs` (scripts/test.sh): the interface sensor.js and
// relay.js share, the public API, and the browser features the type library does not know yet. Messages and
// facts are in protocol.js, generated from tracker/core/protocol.py.
import type { EmbedRuntime, Fact, Hold, PageStart, ToWorker } from "./protocol.js";

/** What relay.js learns from the ledger when the page is left (or asks again while it is hidden). */
export interface Handover {
  /** The hold carried every stored event and every one of its bodies went: the stored backlog went (relay.js). */
  all: boolean;
  /** The ledger: "<destination> <event id>" of what this page handed to the browser, not acknowledged yet. */
  sent: string[];
  /** Events that may arrive twice (the record's `dup`): those sent again while the worker's own fetch of them was
   * unanswered (the one allowed double send), and those in flight by the worker's fetch that the stored backlog
   * sends again (the hold's `fb`). */
  dup: number;
}

/** The sensor as relay.js sees it: one object, created inline before anything else of the tracker runs. */
export interface Sensor {
  readonly runtime: EmbedRuntime;
  /** The page's start-up facts (captured when it started). */
  readonly start: PageStart;
  /** This tab's previous page id (sessionStorage), or null. */
  previous: string | null;
  /** Facts up to this one went to another page with a taken record: judged quietly. */
  quiet: number;
  /** The last fact in the record this page left (0: none). */
  left: number;
  /** A record this page left is in storage (written when hidden or left; removed when visible again). */
  kept?: boolean;
  /** Past pagehide: nothing more is sent until a restore says whether the record was taken. */
  gone?: boolean;
  /** stop() was called (relay.js). */
  stopped?: boolean;
  /** Calls refused on the page (counted in status().stats.rejected). */
  rejected: number;
  /** Facts not yet judged by the worker (in order; relay.js drops the ones a hold reflects). */
  readonly facts: Fact[];
  /** Sections watched now, by key. */
  readonly sections: Map<number, Element>;
  /** The worker's last hold (bodies to send when the page goes, its state, consent). */
  hold?: Hold;
  /** The API's questions asked before relay.js ran (it answers them). */
  readonly asks: ["flush" | "pending" | "status" | "stop", (value: unknown) => void][];
  /** Listeners and observers the sensor added (stop() removes them). */
  listeners: [EventTarget, string, (event: any) => void][];
  observers: { disconnect(): void }[];
  /** Releases the tab's Web Lock (set while it is held). */
  release?: () => void;
  api: GloodTracker;

  text(id: string): string | null;
  /** Record a fact (numbered in order from 1; `time`: when it happened, else now). */
  fact(kind: Fact["k"], fields: object, time?: number): void;
  /** Write the record (again: a hidden page sent more, so its ledger follows). */
  keep(handover?: Handover): void;

  // Set by relay.js.
  /** To the worker (before relay.js runs there is none: what the sensor would tell it, its boot says). */
  toWorker?: (message: ToWorker) => void;
  /** A fact was recorded (relay.js posts the new ones to the worker). */
  onFact?: () => void;
  /** The ledger: "<destination> <event id>" handed to the browser and not acknowledged (the benchmark reads it). */
  ledger?: Set<string>;
  /** Send the hold's bodies not in the ledger (`send`), and say what the record must keep. */
  onLeave?: (send: boolean) => Handover;
  /** Visible again, or restored from the back/forward cache (`taken`: the record went to another page). */
  onRestore?: (taken: boolean) => void;
}

/** `window.gloodTracker`, the public API (README). */
export interface GloodTracker {
  q?: unknown;
  ready: boolean;
  version: string;
  track(name: unknown, data?: unknown, customData?: unknown): string | null;
  setConsent(granted: unknown): void;
  identify(customerId: unknown, traits?: unknown): void;
  reset(): void;
  page(data: unknown): void;
  onReady(callback: () => void): void;
  flush(): Promise<unknown>;
  pending(): Promise<unknown>;
  status(): Promise<unknown>;
  stop(): Promise<unknown>;
}

declare global {
  interface Window {
    gloodTracker?: GloodTracker;
    gloodTrackerConfig?: Record<string, unknown> & { require_consent?: boolean };
    Shopify?: {
      customerPrivacy?: {
        analyticsProcessingAllowed(): boolean;
        currentVisitorConsent(): { analytics?: string } | null;
        saleOfDataAllowed?: () => boolean;
      };
      loadFeatures?: (features: { name: string; version: string }[], callback: (error?: unknown) => void) => void;
    };
    navigation?: EventTarget;
  }
  interface Navigator {
    globalPrivacyControl?: boolean;
  }
  interface Document {
    prerendering?: boolean;
  }
  interface PerformanceNavigationTiming {
    activationStart?: number;
  }
}
