// The one handler every configuration serves, so the benchmark compares supervisors, not apps.
const body = 'hello world\n';
module.exports = function hello(req, res) {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
};
