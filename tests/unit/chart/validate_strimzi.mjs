// Validates Strimzi objects (a JSON array on stdin) against the schemas compiled from
// Strimzi's CRDs in @kubernetes-models/strimzi-kafka-operator; prints one JSON line of
// errors per object, [] when it is valid. Run by tests/unit/test_helm_chart.py.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const modules = process.argv[2]; // the node_modules folder the package is installed in
const objects = JSON.parse(readFileSync(0, "utf8"));
for (const object of objects) {
  const version = object.apiVersion.split("/")[1];
  // By path: the package exports its folders to `import` only, not to require.resolve.
  const file = `${modules}/@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/${version}/index.js`;
  const model = (await import(pathToFileURL(file)))[object.kind];
  try {
    new model(object).validate();
    console.log("[]");
  } catch (error) {
    console.log(JSON.stringify(error.errors ?? [String(error)]));
  }
}
