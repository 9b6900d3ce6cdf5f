// The EventSource the tests install (jsdom has none): the `eventsource`
// package's, remembering every instance so tests can see which are closed.
import { EventSource } from "eventsource";

export class TrackedEventSource extends EventSource {
  static opened: TrackedEventSource[] = [];

  constructor(...args: ConstructorParameters<typeof EventSource>) {
    super(...args);
    TrackedEventSource.opened.push(this);
  }
}

/** The sources opened for `url`. */
export function sourcesFor(url: string): TrackedEventSource[] {
  return TrackedEventSource.opened.filter((source) => source.url === url);
}
