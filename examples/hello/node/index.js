// The greeter again, on the managed Node.js runtime.
exports.handler = async (event) => {
  const query = (event && event.queryStringParameters) || {};
  const name = (event && event.name) || query.name || 'world';
  console.log(`greeting ${name}`);
  return { message: `${process.env.GREETING || 'Hello'}, ${name}!`, runtime: process.env.AWS_EXECUTION_ENV };
};
