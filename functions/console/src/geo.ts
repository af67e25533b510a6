// Where an anomaly happened, from the bundled country/region table (the same file the detectors use).
import table from "../../../layers/core/anomaly_guardian/geo/locations.json";

interface Place {
  lat: number;
  lon: number;
}
const countries = table.countries as Record<string, Place>;
const regions = table.regions as Record<string, Place & { country: string; city: string }>;

export interface Located {
  key: string;
  name: string;
  lat: number;
  lon: number;
}

export function locate(anomaly: any): Located | null {
  const ev = anomaly?.originalEvent ?? {};
  const g = ev.geoLocation;
  if (g && typeof g === "object" && typeof g.latitude === "number" && typeof g.longitude === "number") {
    const name = g.country ? String(g.country) : `${g.latitude.toFixed(1)},${g.longitude.toFixed(1)}`;
    return { key: name, name, lat: g.latitude, lon: g.longitude };
  }
  const code = (typeof g === "string" ? g : g?.country) ?? ev.country;
  if (typeof code === "string" && countries[code.toUpperCase()]) return fromCountry(code.toUpperCase());
  const region = ev.awsRegion ?? ev.region ?? anomaly?.entities?.region;
  if (typeof region === "string" && regions[region]) {
    const r = regions[region];
    return { key: region, name: `${region} (${r.city})`, lat: r.lat, lon: r.lon };
  }
  // geolocation findings name the country in their explanation (the event itself is minimised).
  for (const e of anomaly?.explanation ?? []) {
    if (typeof e.observed === "string" && countries[e.observed]) return fromCountry(e.observed);
  }
  const m = /\bto ([A-Z]{2})\b/.exec(String(anomaly?.description ?? ""));
  return m && countries[m[1]] ? fromCountry(m[1]) : null;
}

function fromCountry(code: string): Located {
  const c = countries[code];
  return { key: code, name: code, lat: c.lat, lon: c.lon };
}
