// `Matrix`, `RandomStream`, `PosteriorWorkspace` and the other GSLKit value types appear in
// DiffusionPhysics' public API: importing DiffusionPhysics brings them along.
@_exported import GSLKit
