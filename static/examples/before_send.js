// An example before_send hook. Config: "before_send": "/static/examples/before_send.js". It runs in the
// tracker's worker (never on the page's main thread): return the event, edited or not, to send it; return
// null to drop it. The event is {id, name, timestamp, data, customData, page_type, page_url}; name, data and
// customData may be changed.
export default function beforeSend(event) {
  // The shop's staff test search with this query: not shoppers.
  if (event.name === "search_submitted" && event.data?.searchResult?.query === "internal-test") return null;
  // Sampling: keep about 1 section view in 10, decided by the event id (a retried event decides the same),
  // and say so, so that counts can be scaled back.
  if (event.name === "glood:section:view") {
    if (parseInt(event.id.slice(0, 2), 16) % 10 !== 0) return null;
    return { ...event, data: { ...event.data, sample_rate: 0.1 } };
  }
  return event;
}
