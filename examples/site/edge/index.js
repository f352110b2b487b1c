'use strict';

// Lambda@Edge, origin-response: the AWS guide's "add HTTP security headers" example.
// It runs once per origin fetch (a cache miss), and the changed response is what the POPs
// cache, so cache hits carry the headers without another call.
exports.handler = (event, context, callback) => {
  const response = event.Records[0].cf.response;
  const headers = response.headers;

  headers['strict-transport-security'] = [
    { key: 'Strict-Transport-Security', value: 'max-age=63072000; includeSubdomains; preload' },
  ];
  // index.html has one inline script (the greeting); everything else comes from the site.
  headers['content-security-policy'] = [
    {
      key: 'Content-Security-Policy',
      value: "default-src 'self'; img-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; object-src 'none'",
    },
  ];
  headers['x-content-type-options'] = [{ key: 'X-Content-Type-Options', value: 'nosniff' }];
  headers['x-frame-options'] = [{ key: 'X-Frame-Options', value: 'DENY' }];
  headers['referrer-policy'] = [{ key: 'Referrer-Policy', value: 'same-origin' }];

  callback(null, response);
};
