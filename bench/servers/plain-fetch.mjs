// A fetch app without a framework: an object whose fetch() returns a Response.
export default {
  fetch: () => new Response('hello world\n', { headers: { 'content-type': 'text/plain; charset=UTF-8' } }),
};
