// Opens the public web card in Debian's Chromium at a phone's viewport and
// checks what a person sees. Driven by crates/cli/tests/browser.rs, which
// starts real registries and passes the pages to open as JSON (argv[2]):
//
//   { "screenshots": DIR,
//     "pages": [{ "name", "url", "locale", "texts": [..], "first": TEXT?,
//                 "credential": "verified" | "failed" | null }] }
//
// For each page: the visible text holds every expected text (and the first
// element of <main> the `first` one: a warning comes first), no console
// error or page error, no request to another host than the card's, and a
// screenshot DIR/NAME.png. The credential check waits for the card's script
// to settle. Prints one JSON line per page; exits 1 if any check failed.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const config = JSON.parse(process.argv[2]);
const profile = mkdtempSync(join(tmpdir(), "robotid-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
  // A phone: 390 × 844 CSS pixels at twice the density, touch.
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
});

let failed = false;
try {
  for (const spec of config.pages) {
    const problems = [];
    const origin = new URL(spec.url).host;
    const page = await browser.newPage();
    // The persistent context has one locale; a page's language comes from
    // Accept-Language, as a phone's settings send it.
    await page.setExtraHTTPHeaders({ "Accept-Language": spec.locale });
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.host !== origin) problems.push(`request to another host: ${request.url()}`);
    });
    const response = await page.goto(spec.url, { waitUntil: "networkidle" });
    if (!response || response.status() !== 200) {
      problems.push(`status ${response ? response.status() : "none"}`);
    }
    if (spec.credential) {
      try {
        await page.waitForSelector(
          "#credential-check[data-state=verified], #credential-check[data-state=failed], #credential-check[data-state=unsupported]",
          { timeout: 10000 },
        );
        const state = await page.getAttribute("#credential-check", "data-state");
        if (state !== spec.credential) problems.push(`credential ${state}, expected ${spec.credential}`);
      } catch (error) {
        problems.push(`the credential check did not finish: ${error.message}`);
      }
    }
    const text = await page.innerText("body");
    for (const expected of spec.texts) {
      if (!text.includes(expected)) problems.push(`missing text: ${expected}`);
    }
    if (spec.first) {
      const first = await page.innerText("main > :first-child");
      if (!first.includes(spec.first)) problems.push(`first on the page: ${first.slice(0, 80)}`);
    }
    const cookies = await browser.cookies();
    if (cookies.length) problems.push(`cookies set: ${cookies.map((c) => c.name).join(", ")}`);
    await page.screenshot({ path: join(config.screenshots, `${spec.name}.png`), fullPage: true });
    await page.close();
    failed ||= problems.length > 0;
    console.log(JSON.stringify({ page: spec.name, ok: problems.length === 0, problems }));
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
