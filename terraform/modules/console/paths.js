// CloudFront Function (viewer request, cloudfront-js-2.0): the console lives under /console/, as on the
// local stack, so one build (Vite base /console/) serves both. "/" and "/console" redirect there, and
// "/console/" is the app's index.html (S3 through OAC has no directory index). Query strings are kept:
// Cognito's hosted UI comes back to /console/?code=...&state=...
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === "/" || uri === "/index.html" || uri === "/console") {
    return {
      statusCode: 301,
      statusDescription: "Moved Permanently",
      headers: { location: { value: "/console/" }, "cache-control": { value: "max-age=3600" } },
    };
  }
  if (uri === "/console/") {
    request.uri = "/console/index.html";
  }
  return request;
}
