// Which signed reports a gateway acknowledged (HTTP 200) to the simulated devices in this process:
// it watches the real fetch (the request still goes out unchanged) and notes device id and counter
// of every POST /v1/reports that was answered 2xx, so a test can check each one reached the store.
import { Buffer } from 'node:buffer';

export interface AcknowledgedReport {
  deviceId: string;
  counter: number;
  state: string;
}

export class AcknowledgedReports {
  readonly reports: AcknowledgedReport[] = [];
  private readonly realFetch = globalThis.fetch;

  /** From now on, every acknowledged report is noted; stop() puts the real fetch back. */
  watch(): void {
    const realFetch = this.realFetch;
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (response.ok && init?.method === 'POST' && url.endsWith('/v1/reports') && typeof init.body === 'string') this.note(init.body);
      return response;
    };
  }

  stop(): void {
    globalThis.fetch = this.realFetch;
  }

  private note(body: string): void {
    const envelope = JSON.parse(body) as { payload: string };
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as AcknowledgedReport;
    this.reports.push({ deviceId: payload.deviceId, counter: payload.counter, state: payload.state });
  }
}
