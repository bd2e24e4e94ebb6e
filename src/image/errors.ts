// Errors of the image model (references, configs, manifests, archives, layouts).

/** A name that is not a valid image reference. */
export class ErrInvalidReference extends TypeError {
  readonly code = 'ERR_INVALID_REFERENCE' as const;
  constructor(name: string, reason: string) {
    super(`invalid image reference "${name}": ${reason}`);
    this.name = 'ErrInvalidReference';
  }
}
