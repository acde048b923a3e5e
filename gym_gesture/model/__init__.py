"""The model: exactly the files that travel with the weights as remote code (configuration, modeling, the
pose descriptor of enrolled classes, processing, skeleton layouts, named transforms). They import only each
other, numpy, torch and transformers, so a model folder loads with `trust_remote_code=True` without this
package."""
